"""Image generation for each provider kind; always returns the image's bytes, never a URL."""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx2
from django.conf import settings
from openai.types import ImagesResponse

from portal.ai import clients, metering, routing
from portal.ai.errors import (
    AIError,
    BadResponse,
    ImageFailed,
    ProviderAuthFailed,
    ProviderBusy,
    ProviderRejected,
    ProviderTimeout,
)
from portal.ai.failures import from_status
from portal.ai.metering import Reading
from portal.ai.models import Feature, ProviderKind
from portal.ai.routing import ModelSpec
from portal.ai.serving import serve
from portal.models import User

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass(frozen=True)
class ImageRequest:
    prompt: str
    width: int
    height: int
    seed: int | None
    negative_prompt: str | None
    # A starting image (refinement): used where the provider takes one (SD WebUI img2img,
    # Seedream's image input); elsewhere a new image is drawn, with the same seed if asked.
    image: bytes | None = None
    strength: float = 0.6


@dataclass(frozen=True)
class ImageResult:
    data: bytes
    mime: str
    seed: int | None
    revised_prompt: str | None
    model: str
    provider: str


def sniff(data: bytes) -> str:
    """The image's MIME type from its first bytes; ImageFailed when it is not an image."""
    if len(data) > settings.AI_MAX_IMAGE_BYTES:
        raise ImageFailed(detail=f"image of {len(data)} bytes exceeds AI_MAX_IMAGE_BYTES")
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise ImageFailed(detail=f"not an image (starts with {data[:16]!r})")


def decode_b64(raw: str) -> bytes:
    if raw.startswith("data:"):
        raw = raw.partition(",")[2]
    if len(raw) * 3 // 4 > settings.AI_MAX_IMAGE_BYTES:
        raise ImageFailed(detail="base64 image exceeds AI_MAX_IMAGE_BYTES")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageFailed(detail=f"invalid base64 image: {exc}") from None


_http_lock = threading.Lock()
_http: httpx2.Client | None = None


def http() -> httpx2.Client:
    global _http
    with _http_lock:
        if _http is None:
            _http = httpx2.Client(follow_redirects=False)  # download() checks every hop
        return _http


MAX_REDIRECTS = 3


def _check_target(url: str, spec: ModelSpec) -> None:
    """A cloud provider's result URL must point to a public address, never a loopback, private
    or link-local one (the metadata service, the intranet), unless it is the provider's own
    host. A local provider's may point anywhere."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImageFailed(detail=f"result URL is not http(s): {url[:100]}")
    if spec.is_local or parts.hostname == urlsplit(spec.base_url).hostname:
        return  # our own network by choice, or the provider's own host: we call it anyway
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ImageFailed(detail=f"result URL host does not resolve: {parts.hostname}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise ImageFailed(detail=f"result URL points to a non-public address: {parts.hostname}")


def download(url: str, spec: ModelSpec) -> bytes:
    """Fetch a result URL at once (they expire), refusing errors, oversized bodies and URLs (or
    redirects) that lead into our own network."""
    limit = settings.AI_MAX_IMAGE_BYTES
    for _hop in range(MAX_REDIRECTS + 1):
        _check_target(url, spec)
        with http().stream("GET", url, timeout=clients.timeout(spec)) as response:
            if response.status_code in (301, 302, 303, 307, 308):
                location = response.headers.get("location", "")
                url = str(response.url.join(location))
                continue
            if response.status_code != 200:
                raise ImageFailed(detail=f"result URL answered HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise ImageFailed(detail=f"result image of {declared} bytes exceeds the limit")
            body = bytearray()
            for part in response.iter_bytes():
                body.extend(part)
                if len(body) > limit:
                    raise ImageFailed(detail="result image exceeds AI_MAX_IMAGE_BYTES")
            return bytes(body)
    raise ImageFailed(detail=f"result URL redirected more than {MAX_REDIRECTS} times")


@dataclass(frozen=True)
class Fetched:
    status_code: int
    headers: httpx2.Headers
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


def fetch(method: str, url: str, **kwargs: Any) -> Fetched:
    """A request whose answer is read only up to a limit: base64 of the largest accepted image
    plus its JSON (a larger or endlessly decompressing body is refused, not held in memory)."""
    limit = settings.AI_MAX_IMAGE_BYTES * 4 // 3 + 64 * 1024
    with http().stream(method, url, **kwargs) as response:
        body = bytearray()
        for part in response.iter_bytes():
            body.extend(part)
            if len(body) > limit:
                raise ImageFailed(detail=f"the answer exceeds {limit} bytes")
        return Fetched(response.status_code, response.headers, bytes(body))


def _json(response: Fetched) -> Any:
    if response.status_code >= 400:
        raise from_status(response.status_code, response.text[:300], response.headers)
    try:
        return json.loads(response.content)
    except ValueError:
        raise BadResponse(detail=f"not JSON: {response.text[:200]!r}") from None


def _result(spec: ModelSpec, data: bytes, seed: int | None, revised: str | None) -> ImageResult:
    return ImageResult(
        data=data,
        mime=sniff(data),
        seed=seed,
        revised_prompt=revised,
        model=spec.name,
        provider=spec.provider_name,
    )


# --- OpenAI-compatible /images/generations (Doubao Seedream on Ark, and others) -------------


def _openai_compatible(spec: ModelSpec, req: ImageRequest) -> ImageResult:
    extra: dict[str, Any] = {}
    if req.seed is not None:
        extra["seed"] = req.seed
    if req.negative_prompt:
        extra["negative_prompt"] = req.negative_prompt
    if req.image is not None:
        # Seedream (Ark) takes the starting image as a data URL in `image`.
        extra["image"] = "data:image/png;base64," + base64.b64encode(req.image).decode("ascii")
    answer = clients.openai_client(spec).images.generate(
        model=spec.name,
        prompt=req.prompt,
        size=f"{req.width}x{req.height}",
        n=1,
        extra_body=extra or None,
        timeout=clients.timeout(spec),
    )
    if not isinstance(answer, ImagesResponse) or not answer.data:
        raise BadResponse(detail=f"no image in the answer: {str(answer)[:200]}")
    item = answer.data[0]
    if item.b64_json:
        data = decode_b64(item.b64_json)
    elif item.url:
        data = download(item.url, spec)
    else:
        raise BadResponse(detail="the image has neither url nor b64_json")
    seed = (item.model_extra or {}).get("seed", req.seed)
    return _result(spec, data, seed if isinstance(seed, int) else req.seed, item.revised_prompt)


# --- AUTOMATIC1111 Stable Diffusion WebUI ---------------------------------------------------


def _sdwebui(spec: ModelSpec, req: ImageRequest) -> ImageResult:
    body: dict[str, Any] = {
        "prompt": req.prompt,
        "negative_prompt": req.negative_prompt or "",
        "seed": req.seed if req.seed is not None else -1,
        "width": req.width,
        "height": req.height,
        "batch_size": 1,
        "n_iter": 1,
        "steps": int(spec.options.get("steps", 20)),
    }
    if spec.name and spec.name != "default":
        body["override_settings"] = {"sd_model_checkpoint": spec.name}
    endpoint = "txt2img"
    if req.image is not None:
        endpoint = "img2img"
        body["init_images"] = [base64.b64encode(req.image).decode("ascii")]
        body["denoising_strength"] = req.strength
    key = clients.api_key(spec)
    # SD WebUI started with --api-auth wants HTTP Basic; the key is then "user:password".
    headers = {}
    if ":" in key:
        headers["Authorization"] = "Basic " + base64.b64encode(key.encode()).decode("ascii")
    answer = _json(
        fetch(
            "POST",
            f"{spec.base_url}/sdapi/v1/{endpoint}",
            json=body,
            headers=headers,
            timeout=clients.timeout(spec),
        )
    )
    images = answer.get("images") if isinstance(answer, dict) else None
    if not images or not isinstance(images[0], str):
        raise BadResponse(detail=f"{endpoint} answered without images")
    seed = req.seed
    try:
        info = json.loads(answer.get("info") or "{}")
        if isinstance(info, dict) and info.get("seed") is not None:
            seed = int(info["seed"])
    except (TypeError, ValueError):
        pass
    return _result(spec, decode_b64(images[0]), seed, None)


# --- ComfyUI: queue a workflow, poll its history, fetch the file ----------------------------

# A plain text-to-image graph in ComfyUI's API format; a provider's options may bring its own,
# with the same node ids for prompt (6), negative prompt (7), size (5) and sampler (3).
DEFAULT_WORKFLOW: dict[str, Any] = {
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 0,
            "steps": 20,
            "cfg": 7,
            "sampler_name": "euler",
            "scheduler": "normal",
            "denoise": 1,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ""}},
    "5": {
        "class_type": "EmptyLatentImage",
        "inputs": {"width": 1024, "height": 1024, "batch_size": 1},
    },
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "portal", "images": ["8", 0]}},
}


def _comfy_workflow(spec: ModelSpec, req: ImageRequest, seed: int) -> dict[str, Any]:
    graph = copy.deepcopy(spec.options.get("workflow") or DEFAULT_WORKFLOW)
    try:
        graph["3"]["inputs"]["seed"] = seed
        graph["5"]["inputs"].update(width=req.width, height=req.height)
        graph["6"]["inputs"]["text"] = req.prompt
        graph["7"]["inputs"]["text"] = req.negative_prompt or ""
        if "4" in graph and spec.name != "default":
            graph["4"]["inputs"]["ckpt_name"] = spec.name
    except (KeyError, TypeError):
        raise ProviderRejected(detail="the ComfyUI workflow lacks nodes 3, 5, 6 and 7") from None
    return graph


def _comfyui(spec: ModelSpec, req: ImageRequest) -> ImageResult:
    seed = req.seed if req.seed is not None else secrets.randbelow(2**32)
    submitted = _json(
        fetch(
            "POST",
            f"{spec.base_url}/prompt",
            json={"prompt": _comfy_workflow(spec, req, seed), "client_id": uuid.uuid4().hex},
            timeout=clients.timeout(spec),
        )
    )
    prompt_id = submitted.get("prompt_id") if isinstance(submitted, dict) else None
    if not prompt_id:
        raise BadResponse(detail=f"/prompt answered without prompt_id: {str(submitted)[:200]}")
    entry = _poll(
        spec,
        lambda: _comfy_entry(spec, str(prompt_id)),
    )
    for output in entry.get("outputs", {}).values():
        for image in output.get("images", []):
            response = fetch(
                "GET",
                f"{spec.base_url}/view",
                params={
                    "filename": image.get("filename", ""),
                    "subfolder": image.get("subfolder", ""),
                    "type": image.get("type", "output"),
                },
                timeout=clients.timeout(spec),
            )
            if response.status_code != 200:
                raise ImageFailed(detail=f"/view answered HTTP {response.status_code}")
            return _result(spec, response.content, seed, None)
    raise BadResponse(detail="the ComfyUI job finished without an image")


def _comfy_entry(spec: ModelSpec, prompt_id: str) -> dict[str, Any] | None:
    history = _json(
        fetch("GET", f"{spec.base_url}/history/{prompt_id}", timeout=clients.timeout(spec))
    )
    entry = history.get(prompt_id) if isinstance(history, dict) else None
    if not isinstance(entry, dict):
        return None
    status = entry.get("status") or {}
    if status.get("status_str") == "error":
        raise ProviderRejected(detail=f"ComfyUI job failed: {json.dumps(status)[:300]}")
    if status.get("completed") or entry.get("outputs"):
        return entry
    return None


def _poll(spec: ModelSpec, check: Any) -> dict[str, Any]:
    """Ask `check` until it returns the finished job, within the model's timeout."""
    interval = float(spec.options.get("poll_interval", 1.0))
    deadline = time.monotonic() + spec.timeout
    while True:
        found = check()
        if found is not None:
            return dict(found)
        if time.monotonic() + interval > deadline:
            raise ProviderTimeout(detail=f"image job not done within {spec.timeout:.0f} s")
        time.sleep(interval)


# --- Tencent Hunyuan image jobs (Cloud API 3.0, TC3-HMAC-SHA256) ----------------------------

HUNYUAN_VERSION = "2023-09-01"
HUNYUAN_SERVICE = "hunyuan"


def tc3_headers(
    *,
    secret_id: str,
    secret_key: str,
    host: str,
    action: str,
    payload: bytes,
    region: str,
    timestamp: int,
) -> dict[str, str]:
    """The headers of a signed Tencent Cloud API 3.0 request."""
    content_type = "application/json; charset=utf-8"
    signed_headers = "content-type;host;x-tc-action"
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type}\nhost:{host}\nx-tc-action:{action.lower()}\n",
            signed_headers,
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{HUNYUAN_SERVICE}/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )

    def sign(key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode(), hashlib.sha256).digest()

    signing = sign(sign(sign(f"TC3{secret_key}".encode(), date), HUNYUAN_SERVICE), "tc3_request")
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Authorization": (
            f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        ),
        "Content-Type": content_type,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Version": HUNYUAN_VERSION,
        "X-TC-Region": region,
    }


def _hunyuan_call(spec: ModelSpec, action: str, params: dict[str, Any]) -> dict[str, Any]:
    key = clients.api_key(spec)
    secret_id, _, secret_key = key.partition(":")
    if not secret_id or not secret_key:
        raise ProviderAuthFailed(detail="the Hunyuan API key must be SecretId:SecretKey")
    payload = json.dumps(params, ensure_ascii=False).encode()
    host = urlsplit(spec.base_url).netloc
    headers = tc3_headers(
        secret_id=secret_id,
        secret_key=secret_key,
        host=host,
        action=action,
        payload=payload,
        region=str(spec.options.get("region", "ap-guangzhou")),
        timestamp=int(time.time()),
    )
    answer = _json(
        fetch(
            "POST",
            spec.base_url + "/",
            content=payload,
            headers=headers,
            timeout=clients.timeout(spec),
        )
    )
    response = answer.get("Response") if isinstance(answer, dict) else None
    if not isinstance(response, dict):
        raise BadResponse(detail=f"no Response object: {str(answer)[:200]}")
    if error := response.get("Error"):
        raise _hunyuan_error(str(error.get("Code", "")), str(error.get("Message", "")))
    return response


def _hunyuan_error(code: str, message: str) -> AIError:
    detail = f"{code}: {message}"
    if code.startswith("AuthFailure"):
        return ProviderAuthFailed(detail=detail)
    if code.startswith(("RequestLimitExceeded", "LimitExceeded", "InternalError")):
        return ProviderBusy(detail=detail)
    return ProviderRejected(detail=detail)


def _hunyuan_image(spec: ModelSpec, req: ImageRequest) -> ImageResult:
    params: dict[str, Any] = {
        "Prompt": req.prompt,
        "Resolution": f"{req.width}:{req.height}",
        "LogoAdd": 0,  # the portal adds its own "AI生成" mark
        # Hunyuan ignores a fixed seed while it rewrites the prompt: a refinement that keeps
        # its seed turns the rewriting off; a fresh image gets the richer rewritten prompt.
        "Revise": 0 if req.seed is not None else 1,
    }
    if req.negative_prompt:
        params["NegativePrompt"] = req.negative_prompt
    if req.seed is not None:
        params["Seed"] = req.seed
    job_id = _hunyuan_call(spec, "SubmitHunyuanImageJob", params).get("JobId")
    if not job_id:
        raise BadResponse(detail="SubmitHunyuanImageJob answered without JobId")

    def check() -> dict[str, Any] | None:
        job = _hunyuan_call(spec, "QueryHunyuanImageJob", {"JobId": job_id})
        status = str(job.get("JobStatusCode", ""))
        if status == "4":
            raise ProviderRejected(
                detail=f"job failed: {job.get('JobErrorCode')}: {job.get('JobErrorMsg')}"
            )
        return job if status == "5" else None

    job = _poll(spec, check)
    urls = job.get("ResultImage") or []
    if not urls:
        raise BadResponse(detail="the Hunyuan job finished without ResultImage")
    revised = job.get("RevisedPrompt") or []
    return _result(spec, download(str(urls[0]), spec), req.seed, revised[0] if revised else None)


_KINDS = {
    ProviderKind.OPENAI_COMPATIBLE: _openai_compatible,
    ProviderKind.SDWEBUI: _sdwebui,
    ProviderKind.COMFYUI: _comfyui,
    ProviderKind.HUNYUAN_IMAGE: _hunyuan_image,
}


# The resolutions Hunyuan's image jobs accept (its API refuses any other).
HUNYUAN_RESOLUTIONS = frozenset(
    {
        (768, 768),
        (768, 1024),
        (1024, 768),
        (1024, 1024),
        (720, 1280),
        (1280, 720),
        (768, 1280),
        (1280, 768),
    }
)


def size_supported(spec: ModelSpec, width: int, height: int) -> bool:
    """Whether the model can draw this size: the provider's `options.sizes` when an admin set
    them ("1024x1024", …), else what the kind accepts."""
    listed = spec.options.get("sizes")
    if isinstance(listed, list) and listed:
        return f"{width}x{height}" in {str(size) for size in listed}
    if spec.kind == ProviderKind.HUNYUAN_IMAGE:
        return (width, height) in HUNYUAN_RESOLUTIONS
    if spec.kind in (ProviderKind.SDWEBUI, ProviderKind.COMFYUI):
        return width % 8 == 0 and height % 8 == 0 and min(width, height) >= 256
    return min(width, height) >= 256 and max(width, height) <= 4096


def feature_supports_size(feature: str, size: str) -> bool:
    """Whether some model routed for the feature can draw the size (True with none routed: the
    composer then makes the image, at any size)."""
    width, height = parse_size(size)
    specs = routing.candidates(feature)
    return not specs or any(size_supported(spec, width, height) for spec in specs)


def parse_size(size: str) -> tuple[int, int]:
    width, sep, height = size.lower().replace(":", "x").partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise ValueError(f"size must look like 1024x1024, got {size!r}")
    return int(width), int(height)


def generate_image(
    prompt: str,
    *,
    user: User | None = None,
    feature: str = Feature.IMAGING,
    size: str = "1024x1024",
    seed: int | None = None,
    negative_prompt: str | None = None,
    image: bytes | None = None,
) -> ImageResult:
    """One image from the first healthy image model routed for the feature (sync: runs in a
    worker of the `images` queue). `image`: a starting image, for a refinement."""
    width, height = parse_size(size)
    req = ImageRequest(prompt, width, height, seed, negative_prompt, image)

    def call(spec: ModelSpec, reading: Reading) -> ImageResult:
        adapter = _KINDS.get(spec.kind)  # type: ignore[call-overload]
        if adapter is None:
            raise ProviderRejected(detail=f"kind {spec.kind} cannot make images")
        if not size_supported(spec, width, height):
            raise ProviderRejected(detail=f"{spec.name} does not draw {width}x{height}")
        result: ImageResult = adapter(spec, req)
        reading.images = 1
        return result

    return serve(feature, metering.user_id(user), call)
