"""Users, union units, member verification, the audit log, beta programmes and roster imports."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

UNIT_PATH_SEPARATOR = "/"


class UnionUnit(models.Model):
    """A node of the union tree: 市总工会 → 区/镇街总工会 → 基层工会."""

    name = models.CharField(_("名称"), max_length=100)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级工会"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    # The names from the root down joined by "/": lets a subtree be one indexed prefix query.
    path = models.CharField(_("路径"), max_length=600, unique=True, editable=False)
    depth = models.PositiveSmallIntegerField(_("层级"), default=0, editable=False)

    class Meta:
        verbose_name = _("工会组织")
        verbose_name_plural = _("工会组织")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="unit_unique_name_in_parent"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(parent=None), name="unit_unique_root_name"
            ),
        ]

    def __str__(self) -> str:
        return self.path

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.name = self.name.strip()
        if self.parent is None:
            self.path, self.depth = self.name, 0
        else:
            self.path = f"{self.parent.path}{UNIT_PATH_SEPARATOR}{self.name}"
            self.depth = self.parent.depth + 1
        with transaction.atomic():
            old_path = (
                UnionUnit.objects.filter(pk=self.pk).values_list("path", flat=True).first()
                if self.pk
                else None
            )
            super().save(*args, **kwargs)
            if old_path and old_path != self.path:
                prefix = old_path + UNIT_PATH_SEPARATOR
                UnionUnit.objects.filter(path__startswith=prefix).update(
                    path=Concat(Value(self.path), Substr("path", len(old_path) + 1)),
                    depth=models.F("depth") + (self.depth - old_path.count(UNIT_PATH_SEPARATOR)),
                )

    def clean(self) -> None:
        if UNIT_PATH_SEPARATOR in self.name:
            raise ValidationError({"name": _("名称中不能包含“/”。")})
        if self.pk and self.parent_id:
            ancestor: UnionUnit | None = self.parent
            while ancestor is not None:
                if ancestor.pk == self.pk:
                    raise ValidationError({"parent": _("上级工会不能是自己或下级工会。")})
                ancestor = ancestor.parent

    @property
    def level_label(self) -> str:
        if self.depth == 0:
            return str(_("市总工会"))
        if self.depth == 1:
            return str(_("区/镇街总工会"))
        return str(_("基层工会"))

    def subtree(self) -> models.QuerySet[UnionUnit]:
        """This unit and every unit below it."""
        return UnionUnit.objects.filter(
            Q(pk=self.pk) | Q(path__startswith=self.path + UNIT_PATH_SEPARATOR)
        )

    def contains(self, other: UnionUnit) -> bool:
        return other.path == self.path or other.path.startswith(self.path + UNIT_PATH_SEPARATOR)


class Role(models.TextChoices):
    MEMBER = "member", _("会员")
    STAFF = "staff", _("基层工会干部")
    EDITOR = "editor", _("编辑")
    ADMIN = "admin", _("管理员")


class User(AbstractUser):
    role = models.CharField(_("角色"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    union_unit = models.ForeignKey(
        UnionUnit,
        verbose_name=_("所属工会"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The Django admin site is for admins only; keep its flags in step with the role.
        if self.is_superuser and self.role != Role.ADMIN and not self.pk:
            self.role = Role.ADMIN
        self.is_staff = self.is_superuser = self.role == Role.ADMIN
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "role" in update_fields:
            kwargs["update_fields"] = {*update_fields, "is_staff", "is_superuser"}
        saves_password = update_fields is None or "password" in update_fields
        revoke = self._credentials_changed and saves_password and not self._state.adding
        super().save(*args, **kwargs)
        if saves_password:
            self._credentials_changed = False
        if revoke:
            # A new password (or none) ends the API tokens issued under the old one, as it
            # ends the other browser sessions (Django's session hash).
            from rest_framework.authtoken.models import Token

            Token.objects.filter(user=self).delete()

    _credentials_changed = False

    def set_password(self, raw_password: str | None) -> None:
        super().set_password(raw_password)
        self._credentials_changed = True

    def set_unusable_password(self) -> None:
        super().set_unusable_password()
        self._credentials_changed = True

    @property
    def display_name(self) -> str:
        profile = getattr(self, "member_profile", None)
        return profile.real_name if profile else self.get_full_name() or self.username

    @property
    def is_verified_member(self) -> bool:
        profile: MemberProfile | None = getattr(self, "member_profile", None)
        return profile is not None and profile.verified_at is not None


class VerificationSource(models.TextChoices):
    ROSTER = "roster", _("名册导入")
    STAFF = "staff", _("工会干部审核")


class MemberProfile(models.Model):
    """Real-name data of a member. The ID number itself is never stored: only its keyed hash."""

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="member_profile", verbose_name=_("用户")
    )
    real_name = models.CharField(_("真实姓名"), max_length=50)
    member_no = models.CharField(_("会员证号"), max_length=40, unique=True)
    phone = models.CharField(_("手机号"), max_length=20, blank=True)
    id_hash = models.CharField(_("身份证号摘要"), max_length=64, unique=True, editable=False)
    id_masked = models.CharField(_("身份证号"), max_length=18, editable=False)
    verified_at = models.DateTimeField(_("认证时间"), null=True, blank=True)
    verified_by = models.ForeignKey(
        User,
        verbose_name=_("认证人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verification_source = models.CharField(
        _("认证方式"), max_length=16, choices=VerificationSource.choices, blank=True
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("会员实名信息")
        verbose_name_plural = _("会员实名信息")

    def __str__(self) -> str:
        return f"{self.real_name}（{self.id_masked}）"

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def phone_masked(self) -> str:
        return f"{self.phone[:3]}****{self.phone[-4:]}" if len(self.phone) >= 7 else self.phone


class AuditAction(models.TextChoices):
    LOGIN = "login", _("登录")
    LOGIN_FAILED = "login_failed", _("登录失败")
    LOCKED_OUT = "locked_out", _("账户锁定")
    LOGOUT = "logout", _("退出登录")
    TOKEN_ISSUED = "token_issued", _("签发API令牌")
    TOKEN_REVOKED = "token_revoked", _("撤销API令牌")
    REGISTERED = "registered", _("注册")
    ACTIVATED = "activated", _("激活账户")
    ACTIVATION_FAILED = "activation_failed", _("激活失败")
    VERIFIED = "verified", _("实名认证")
    ROLE_CHANGED = "role_changed", _("角色变更")
    ACCOUNT_STATUS = "account_status", _("账户启用/停用")
    PROFILE_REPLACED = "profile_replaced", _("未审核实名信息被名册替换")
    PASSWORD_RESET_BY_ROSTER = "roster_password_reset", _("名册认证后需重新激活")
    ROSTER_IMPORTED = "roster_imported", _("名册导入")
    BETA_ENROLLED = "beta_enrolled", _("内测报名")
    BETA_PROMOTED = "beta_promoted", _("候补递补")
    DOCUMENT_DELETED = "document_deleted", _("删除文档")
    FAQ_DELETED = "faq_deleted", _("删除常见问题")
    LEXICON_DELETED = "lexicon_deleted", _("删除词条")
    PROVIDER_CHANGED = "provider_changed", _("模型服务变更")
    PROVIDER_KEY_CHANGED = "provider_key_changed", _("模型服务密钥变更")
    FEATURE_ROUTES_CHANGED = "feature_routes_changed", _("功能路由变更")
    WORD_LIST_CHANGED = "word_list_changed", _("敏感词表变更")
    QUESTION_SET_DELETED = "question_set_deleted", _("删除测试问题集")
    TEMPLATE_SAVED = "template_saved", _("保存写作模板")
    TEMPLATE_DELETED = "template_deleted", _("删除写作模板")
    DRAFT_SHARED = "draft_shared", _("共享草稿")
    DRAFT_UNSHARED = "draft_unshared", _("取消共享草稿")
    IMAGE_TAKEN_DOWN = "image_taken_down", _("下架图片")
    BRAND_KIT_CHANGED = "brand_kit_changed", _("品牌套件变更")


class AuditEvent(models.Model):
    """Who did what, when, from where. Append-only."""

    created_at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    # Kept as text too, so the record survives the account and names a failed login's user name.
    actor_name = models.CharField(_("操作人账号"), max_length=150, blank=True)
    action = models.CharField(_("操作"), max_length=32, choices=AuditAction.choices, db_index=True)
    target = models.CharField(_("对象"), max_length=200, blank=True)
    detail = models.JSONField(_("详情"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("来源地址"), null=True, blank=True)
    user_agent = models.CharField(_("客户端"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.get_action_display()}"


class BetaProgramme(models.Model):
    """A closed beta: a number of places for verified members inside a sign-up window."""

    name = models.CharField(_("名称"), max_length=100)
    slug = models.SlugField(_("标识"), unique=True)
    description = models.TextField(_("说明"), blank=True)
    capacity = models.PositiveIntegerField(_("名额"), default=100)
    opens_at = models.DateTimeField(_("报名开始"))
    closes_at = models.DateTimeField(_("报名截止"))
    gates_ai = models.BooleanField(
        _("限定内测会员使用AI服务"),
        default=True,
        help_text=_(
            "开启时，只有在某个开启此项的内测计划中获得资格的会员（以及工会干部、编辑、管理员）"
            "可以使用AI服务；正式上线时关闭。"
        ),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    # Kept by portal.services.beta in the statement that takes a place, so that statement needs
    # no count of the enrolments (and no lock held across round trips); the rows stay the record.
    accepted_count = models.PositiveIntegerField(_("已获资格人数"), default=0, editable=False)
    waitlisted_count = models.PositiveIntegerField(_("候补人数"), default=0, editable=False)

    class Meta:
        verbose_name = _("内测计划")
        verbose_name_plural = _("内测计划")
        ordering = ["-opens_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="beta_window_not_empty"
            ),
            models.CheckConstraint(condition=Q(capacity__gt=0), name="beta_capacity_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": _("报名截止时间必须晚于开始时间。")})

    def is_open(self, now: Any = None) -> bool:
        now = now or timezone.now()
        return bool(self.opens_at <= now < self.closes_at)


class EnrolmentStatus(models.TextChoices):
    ACCEPTED = "accepted", _("已获得内测资格")
    WAITLISTED = "waitlisted", _("候补中")


class BetaEnrolment(models.Model):
    programme = models.ForeignKey(
        BetaProgramme,
        on_delete=models.CASCADE,
        related_name="enrolments",
        verbose_name=_("内测计划"),
    )
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="beta_enrolments", verbose_name=_("会员")
    )
    status = models.CharField(_("状态"), max_length=16, choices=EnrolmentStatus.choices)
    created_at = models.DateTimeField(_("报名时间"), default=timezone.now)

    class Meta:
        verbose_name = _("内测报名")
        verbose_name_plural = _("内测报名")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "user"], name="one_enrolment_per_member")
        ]
        indexes = [models.Index(fields=["programme", "status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.programme} · {self.user} · {self.get_status_display()}"


class RosterImportStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("导入中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("未导入")


class RosterImport(models.Model):
    """A roster file uploaded on the members page, imported by a background job."""

    uploaded_by = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("上传人")
    )
    uploaded_from = models.GenericIPAddressField(_("来源地址"), null=True, blank=True)
    file_name = models.CharField(_("文件名"), max_length=200)
    # Parsed rows, with ID numbers already reduced to their keyed hash and masked form.
    rows = models.JSONField(_("名册行"), default=list, blank=True)
    status = models.CharField(
        _("状态"),
        max_length=16,
        choices=RosterImportStatus.choices,
        default=RosterImportStatus.QUEUED,
    )
    created_count = models.PositiveIntegerField(_("新建"), default=0)
    updated_count = models.PositiveIntegerField(_("更新"), default=0)
    unchanged_count = models.PositiveIntegerField(_("未变"), default=0)
    errors = models.JSONField(_("错误"), default=list, blank=True)
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("名册导入")
        verbose_name_plural = _("名册导入")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"
