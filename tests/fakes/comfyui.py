"""A fake ComfyUI: POST /prompt queues a workflow, GET /history/{id} reports it (after a few
polls), GET /view serves the image.

    python -m tests.fakes.comfyui --port 8188
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeServer, serve_forever, tiny_png


class FakeComfyUI(FakeServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.polls_before_done = 2
        self.fail_job = False
        self.jobs: dict[str, dict[str, Any]] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/prompt", self.prompt)
        app.router.add_get("/history/{prompt_id}", self.history)
        app.router.add_get("/view", self.view)

    async def prompt(self, request: web.Request) -> web.StreamResponse:
        recorded, behaviour = await self.record(request)
        if (canned := self.canned(behaviour)) is not None:
            return canned
        graph = recorded.json()["prompt"]
        prompt_id = str(uuid.uuid4())
        self.jobs[prompt_id] = {"graph": graph, "polls": 0}
        return web.json_response(
            {"prompt_id": prompt_id, "number": len(self.jobs), "node_errors": {}}
        )

    async def history(self, request: web.Request) -> web.StreamResponse:
        _recorded, behaviour = await self.record(request)
        if (canned := self.canned(behaviour)) is not None:
            return canned
        prompt_id = request.match_info["prompt_id"]
        job = self.jobs.get(prompt_id)
        if job is None:
            return web.json_response({})
        job["polls"] += 1
        if job["polls"] <= self.polls_before_done:
            return web.json_response({})
        if self.fail_job:
            status = {
                "status_str": "error",
                "completed": False,
                "messages": [["execution_error", {}]],
            }
            return web.json_response({prompt_id: {"prompt": [], "outputs": {}, "status": status}})
        seed = job["graph"]["3"]["inputs"]["seed"]
        image = {"filename": f"portal_{seed}.png", "subfolder": "", "type": "output"}
        return web.json_response(
            {
                prompt_id: {
                    "prompt": [],
                    "outputs": {"9": {"images": [image]}},
                    "status": {"status_str": "success", "completed": True, "messages": []},
                }
            }
        )

    async def view(self, request: web.Request) -> web.StreamResponse:
        _recorded, behaviour = await self.record(request)
        if (canned := self.canned(behaviour)) is not None:
            return canned
        name = request.query.get("filename", "")
        if not name.startswith("portal_") or request.query.get("type") != "output":
            return web.Response(status=404)
        seed = int(name.removeprefix("portal_").removesuffix(".png"))
        return web.Response(body=tiny_png(seed), content_type="image/png")


if __name__ == "__main__":
    serve_forever(FakeComfyUI(), "A fake ComfyUI")
