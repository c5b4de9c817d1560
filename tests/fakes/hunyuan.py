"""A fake Tencent Cloud API 3.0 endpoint for Hunyuan image jobs: it checks the TC3-HMAC-SHA256
signature, takes SubmitHunyuanImageJob and answers QueryHunyuanImageJob (waiting, running, done
or failed), with result URLs served by itself.

    python -m tests.fakes.hunyuan --port 9200
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeServer, serve_forever, tiny_png

SECRET_ID = "AKIDfake0000000000"
SECRET_KEY = "fake-secret-key-0000"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def expected_signature(headers: dict[str, str], body: bytes, secret_key: str) -> str:
    """The signature Tencent Cloud computes for a request (the documented algorithm)."""
    timestamp = int(headers["X-TC-Timestamp"])
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    signed = re.search(r"SignedHeaders=([^,]+)", headers["Authorization"])
    names = signed.group(1).split(";") if signed else []
    lowered = {k.lower(): v for k, v in headers.items()}
    canonical_headers = "".join(f"{n}:{lowered.get(n, '').strip().lower()}\n" for n in names)
    canonical = "\n".join(
        ["POST", "/", "", canonical_headers, ";".join(names), hashlib.sha256(body).hexdigest()]
    )
    scope = f"{date}/hunyuan/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), "hunyuan"), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class FakeHunyuan(FakeServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.polls_before_done = 1
        self.fail_job = False
        self.result_404 = False
        self.jobs: dict[str, dict[str, Any]] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/", self.api)

    @staticmethod
    def _answer(payload: dict[str, Any]) -> web.Response:
        return web.json_response({"Response": {**payload, "RequestId": str(uuid.uuid4())}})

    def _error(self, code: str, message: str) -> web.Response:
        return self._answer({"Error": {"Code": code, "Message": message}})

    async def api(self, request: web.Request) -> web.StreamResponse:
        recorded, behaviour = await self.record(request)
        if (canned := self.canned(behaviour)) is not None:
            return canned
        headers = recorded.headers
        auth = headers.get("Authorization", "")
        if not auth.startswith(f"TC3-HMAC-SHA256 Credential={SECRET_ID}/"):
            return self._error("AuthFailure.SecretIdNotFound", "密钥不存在")
        given = auth.rpartition("Signature=")[2]
        if not hmac.compare_digest(given, expected_signature(headers, recorded.body, SECRET_KEY)):
            return self._error("AuthFailure.SignatureFailure", "签名错误")
        action = headers.get("X-TC-Action")
        params = recorded.json()
        if action == "SubmitHunyuanImageJob":
            if not params.get("Prompt"):
                return self._error("InvalidParameter", "Prompt 不能为空")
            job_id = f"{uuid.uuid4()}-0"
            self.jobs[job_id] = {"params": params, "polls": 0}
            return self._answer({"JobId": job_id})
        if action == "QueryHunyuanImageJob":
            job = self.jobs.get(params.get("JobId", ""))
            if job is None:
                return self._error("ResourceNotFound", "任务不存在")
            job["polls"] += 1
            if job["polls"] <= self.polls_before_done:
                return self._answer({"JobStatusCode": "2", "JobStatusMsg": "处理中"})
            if self.fail_job:
                return self._answer(
                    {
                        "JobStatusCode": "4",
                        "JobStatusMsg": "处理失败",
                        "JobErrorCode": "FailedOperation.GenerateImageFailed",
                        "JobErrorMsg": "生成图片失败",
                    }
                )
            name = f"{uuid.uuid4().hex}.png"
            if not self.result_404:
                # Drawn at the resolution asked for ("1024:768"), in one colour.
                width, _, height = str(job["params"].get("Resolution", "1:1")).partition(":")
                seed = job["params"].get("Seed", 7)
                self.add_file(name, tiny_png(seed, int(width or 1), int(height or 1)))
            return self._answer(
                {
                    "JobStatusCode": "5",
                    "JobStatusMsg": "处理完成",
                    "ResultImage": [f"{self.url}/files/{name}"],
                    "ResultDetails": ["Success"],
                    "RevisedPrompt": [f"{job['params']['Prompt']}，高清，细节丰富"],
                }
            )
        return self._error("InvalidAction", f"unknown action {action}")


if __name__ == "__main__":
    serve_forever(FakeHunyuan(), "A fake Tencent Hunyuan image API")
