"""A fake AUTOMATIC1111 Stable Diffusion WebUI: POST /sdapi/v1/txt2img and /sdapi/v1/img2img.

python -m tests.fakes.sdwebui --port 7860
"""

from __future__ import annotations

import base64
import json

from aiohttp import web

from tests.fakes.server import FakeServer, serve_forever, tiny_png

RANDOM_SEED = 987654321  # what the fake "draws" when asked for seed -1


class FakeSDWebUI(FakeServer):
    # When set, every drawing is these bytes (a real-size PNG, an HTML page, a bomb…).
    image_bytes: bytes | None = None

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/sdapi/v1/txt2img", self.txt2img)
        app.router.add_post("/sdapi/v1/img2img", self.txt2img)  # init_images is recorded

    async def txt2img(self, request: web.Request) -> web.StreamResponse:
        recorded, behaviour = await self.record(request)
        if (canned := self.canned(behaviour)) is not None:
            return canned
        body = recorded.json()
        seed = body.get("seed", -1)
        seed = RANDOM_SEED if seed in (-1, None) else seed
        drawn = self.image_bytes if self.image_bytes is not None else tiny_png(seed)
        image = base64.b64encode(drawn).decode()
        info = {"prompt": body.get("prompt"), "seed": seed, "all_seeds": [seed]}
        return web.json_response(
            {"images": [image], "parameters": body, "info": json.dumps(info, ensure_ascii=False)}
        )


if __name__ == "__main__":
    serve_forever(FakeSDWebUI(), "A fake Stable Diffusion WebUI")
