"""PDF from the exported .docx by LibreOffice headless, so the PDF and the .docx never disagree.

Each call runs its own `soffice` with a profile of its own in a temporary directory
(-env:UserInstallation): concurrent conversions in a thread-pool worker do not share
LibreOffice's lock or profile. A new profile costs LibreOffice about a second to set up, so the
first profile a process makes is kept as a template and copied for the calls after it. The
process group is killed at the timeout. The environment is
minimal: no proxy variables, HOME in the temporary directory; the .docx we build links to
nothing outside itself, so there is nothing for the conversion to fetch. FONTCONFIG_FILE points
at writer/export/fonts.conf, which maps the office fonts the document names onto the CJK fonts
Debian ships; LibreOffice embeds the subsets it uses.

A labelled document gets the implicit AI label in the PDF's Info dictionary as `/AIGC` (the
JSON text of portal.aigc.to_json), written with pypdf.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

from django.utils.translation import gettext as _
from pypdf import PdfReader, PdfWriter

from portal import aigc
from portal.errors import PortalError

logger = logging.getLogger(__name__)
FONTS_CONF = Path(__file__).with_name("fonts.conf")
TIMEOUT_S = 120.0  # a first conversion also creates the profile: a few seconds on a busy host


class PdfUnavailable(PortalError):
    """LibreOffice is not installed where the conversion runs."""

    status = 503


class PdfFailed(PortalError):
    """LibreOffice ran but gave no PDF: it crashed, refused the file or ran out of time."""

    status = 500


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def docx_to_pdf(
    docx: bytes, *, ai_label: dict[str, str] | None, timeout: float = TIMEOUT_S
) -> bytes:
    """The PDF of a .docx, labelled as AI-generated when `ai_label` is given."""
    soffice = soffice_path()
    if soffice is None:
        raise PdfUnavailable(
            _(
                "服务器未安装 LibreOffice，暂时无法导出 PDF。请先导出 Word（.docx）文件，"
                "或请管理员安装 libreoffice-writer-nogui。"
            )
        )
    with tempfile.TemporaryDirectory(prefix="writer-pdf-") as tmp:
        work = Path(tmp)
        source = work / "document.docx"
        source.write_bytes(docx)
        out_dir = work / "out"
        profile = work / "profile"
        template = _PROFILE.get("template")
        if template is not None:
            shutil.copytree(template, profile, symlinks=True)
        command = [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--invisible",
            "--norestore",
            "--nolockcheck",
            "--nodefault",
            "--nologo",
            "--convert-to",
            "pdf:writer_pdf_Export",
            "--outdir",
            str(out_dir),
            str(source),
        ]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work),
            "TMPDIR": str(work),
            "LANG": "C.UTF-8",
            "FONTCONFIG_FILE": str(FONTS_CONF),
        }
        process = subprocess.Popen(  # noqa: S603  (our own arguments, no shell)
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            _out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PdfFailed(
                _("PDF 转换超时（%(seconds)d 秒），请稍后重试或先导出 Word 文件。")
                % {"seconds": int(timeout)}
            ) from None
        finally:
            _kill(process)  # and whatever it left running in its group
        pdf = out_dir / "document.pdf"
        if process.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
            logger.warning(
                "soffice exited %s without a PDF: %s",
                process.returncode,
                err.decode("utf-8", "replace").strip()[-500:],
            )
            raise PdfFailed(_("PDF 转换失败，请稍后重试或先导出 Word 文件。"))
        data = pdf.read_bytes()
        if template is None:
            _keep_profile(profile)
    return label_pdf(data, ai_label) if ai_label is not None else data


_PROFILE: dict[str, Path] = {}
_PROFILE_LOCK = threading.Lock()


def _keep_profile(profile: Path) -> None:
    """Keep a profile LibreOffice has set up as this process's template (once)."""
    with _PROFILE_LOCK:
        if "template" in _PROFILE:
            return
        keep = Path(tempfile.mkdtemp(prefix="writer-pdf-profile-")) / "profile"
        shutil.copytree(profile, keep, symlinks=True)
        atexit.register(shutil.rmtree, keep.parent, ignore_errors=True)
        _PROFILE["template"] = keep


def _kill(process: subprocess.Popen[bytes]) -> None:
    """End the whole process group soffice started (oosplash and soffice.bin)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def label_pdf(pdf: bytes, label: dict[str, str]) -> bytes:
    """The PDF with `/AIGC` in its Info dictionary; the rest of the Info is kept."""
    reader = PdfReader(io.BytesIO(pdf))
    writer = PdfWriter(clone_from=reader)
    info = {str(key): str(value) for key, value in (reader.metadata or {}).items()}
    info["/AIGC"] = aigc.to_json(label)
    writer.add_metadata(info)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
