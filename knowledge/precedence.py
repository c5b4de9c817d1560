"""Which of two near-equal passages a member should read first: the rules of precedence an
editor knows (上位法优于下位法, 特别法优于一般法, 新法优于旧法), and the guesses that give an
imported document its authority level and date.

The ranker calls `order()` once on its final list. Only passages whose scores are within
`NEAR_TIE` of each other change places: precedence breaks ties, it never overrules relevance.
Between two documents the first rule that applies decides, so the preference is one-way:

1. a law before its own implementing regulation (劳动合同法 before 劳动合同法实施条例), unless the
   question names the regulation (实施条例, 实施细则, 实施办法): then the regulation, even from
   `NAMED_TIE` behind;
2. the more specific before the more general: a title whose subject contains the other's
   (劳动合同法 before 劳动法, 劳动争议调解仲裁法 before 劳动法);
3. on the same matter (the same subject in the title), the higher authority level before the
   lower (上位法), and at the same level the newer before the older (新法). Rules on different
   matters do not compete: 安全生产法 being newer than 劳动合同法 says nothing about which
   answers a question better.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from typing import Protocol, TypeVar

from knowledge.models import AuthorityLevel, DocumentKind

NEAR_TIE = 0.05  # passages within 5 % of a better one's score are a near tie
# A question that names the implementing regulation (实施条例…) asks for it: its article comes
# before its law's from further behind.
NAMED_TIE = 0.2
WINDOW = 10  # only the first passages are reordered

# Highest first; a level absent here (blank) counts as OTHER.
RANK = {
    level: len(AuthorityLevel.values) - position
    for position, level in enumerate(AuthorityLevel.values)
}
IMPLEMENTING = ("实施条例", "实施细则", "实施办法")
_NATION = "中华人民共和国"
_KIND_SUFFIX = re.compile(
    r"(实施条例|实施细则|实施办法|实施意见|特别规定|条例|规定|办法|细则|规则|法典|法)$"
)
_VERSION = re.compile(r"[（(][^（）()]*[)）]")  # （2018年修正）, (试行)
_PLACE = re.compile(r"^[\u4e00-\u9fff]{2,8}?(省|自治区|市|自治州|县|区)")
_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_ADOPTED = re.compile(r"通过|公布|发布|修正|修订|修改|印发")
_ARTICLE_OR_CHAPTER = re.compile(r"^\s*#*\s*第[一二三四五六七八九十百零〇两\d]+[条章节编]")


class Ranked(Protocol):
    """What order() needs of a passage."""

    document_id: int
    score: float
    title: str
    authority: str
    dated: date | None


P = TypeVar("P", bound=Ranked)


@dataclass(frozen=True)
class Standing:
    """What precedence reads of a document."""

    title: str
    level: str
    dated: date | None

    @property
    def core(self) -> str:
        return subject(self.title)

    @property
    def implementing(self) -> bool:
        return any(word in self.title for word in IMPLEMENTING)


@functools.lru_cache(maxsize=4096)  # of titles; asked for each pair of near ties
def subject(title: str) -> str:
    """What a rule is about, from its title: 中华人民共和国劳动合同法实施条例 → 劳动合同."""
    core = _VERSION.sub("", title).strip()
    core = core.removeprefix(_NATION).removeprefix("关于")
    # Twice: 劳动合同法实施条例 → 劳动合同法 → 劳动合同.
    return _KIND_SUFFIX.sub("", _KIND_SUFFIX.sub("", core))


def _implements(child: Standing, parent: Standing) -> bool:
    return (
        child.implementing
        and not parent.implementing
        and bool(parent.core)
        and parent.core in child.core
    )


def beats(a: Standing, b: Standing, question: str) -> bool:
    """Whether `a` should come before `b` when their scores nearly tie."""
    names_regulation = any(word in question for word in IMPLEMENTING)
    if _implements(b, a):
        return not names_regulation
    if _implements(a, b):
        return names_regulation
    if a.core != b.core and a.core and b.core and (b.core in a.core or a.core in b.core):
        return b.core in a.core
    if a.core != b.core:
        # Rules on different matters do not compete: the better match stays first.
        return False
    rank_a, rank_b = RANK.get(a.level, 0), RANK.get(b.level, 0)
    if rank_a != rank_b:
        return rank_a > rank_b
    if a.dated and b.dated and a.dated != b.dated:
        return a.dated > b.dated
    return False


def order(passages: list[P], question: str) -> list[P]:
    """The passages (best first by score) with near ties broken by precedence."""
    head = passages[:WINDOW]
    if len({p.document_id for p in head}) < 2:
        return passages
    standing = {p.document_id: Standing(p.title, p.authority, p.dated) for p in head}
    pending = list(head)
    ordered: list[P] = []
    named = any(word in question for word in IMPLEMENTING)
    while pending:
        winner = pending[0]
        for rival in pending[1:]:
            # Within a share of the winner's score, below zero too (a guide's, lowered).
            if rival.score < winner.score - abs(winner.score) * max(NEAR_TIE, NAMED_TIE):
                break
            if rival.document_id == winner.document_id:
                continue
            a, b = standing[rival.document_id], standing[winner.document_id]
            tie = NAMED_TIE if named and _implements(a, b) else NEAR_TIE
            if rival.score >= winner.score - abs(winner.score) * tie and beats(a, b, question):
                winner = rival
        pending.remove(winner)
        ordered.append(winner)
    return ordered + passages[WINDOW:]


# --- guesses on import -----------------------------------------------------------------------


def guess_authority(title: str, body: str = "", kind: str = "") -> str:
    """The authority level a title (and the text's header) suggests; OTHER when neither says."""
    if kind in (DocumentKind.GUIDE, DocumentKind.NEWS):
        return AuthorityLevel.OTHER
    name = _VERSION.sub("", title).strip()
    header = _header(body)
    if "解释" in name and ("最高人民法院" in name + header or "审理" in name):
        return AuthorityLevel.JUDICIAL
    if "章程" in name or ("工会" in name and re.search(r"(制度|规定|办法|细则|规则)$", name)):
        return AuthorityLevel.UNION_RULE
    if re.search(r"(通知|意见|公告|通告|函|纪要|方案)$", name):
        return AuthorityLevel.NOTICE
    local = bool(_PLACE.match(name.removeprefix(_NATION)))
    if name.endswith(("法", "法典")) and not name.endswith("办法"):
        return AuthorityLevel.LOCAL_REGULATION if local else AuthorityLevel.LAW
    if name.endswith("条例"):
        return AuthorityLevel.LOCAL_REGULATION if local else AuthorityLevel.REGULATION
    if re.search(r"(规定|办法|细则|规则)$", name):
        if "国务院令" in header:
            return AuthorityLevel.REGULATION
        if local:
            return AuthorityLevel.LOCAL_RULE
        # A ministry's order, or its adoption at the ministry's own meeting (部务会议).
        if re.search(r"部令|部长|委员会令|总局令|部务会议|委务会议", header):
            return AuthorityLevel.DEPARTMENT_RULE
        return AuthorityLevel.NOTICE
    return AuthorityLevel.OTHER


def guess_date(body: str) -> date | None:
    """The latest date the text's header says it was adopted, published or amended."""
    found: list[date] = []
    for line in _header(body).splitlines():
        if not _ADOPTED.search(line):
            continue
        for year, month, day in _DATE.findall(line):
            try:
                found.append(date(int(year), int(month), int(day)))
            except ValueError:
                continue
    return max(found, default=None)


def _header(body: str) -> str:
    """The lines before the first article or chapter (a law's adoption notes), at most 20."""
    lines = []
    for line in body.splitlines()[:40]:
        if _ARTICLE_OR_CHAPTER.match(line):
            break
        lines.append(line)
    return "\n".join(lines[:20])
