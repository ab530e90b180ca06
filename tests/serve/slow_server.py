"""A service in its own process whose encoder never finishes, for the test that kills
the server in the middle of a request. argv: tokens file, model name, model id,
preprocessing. Prints 'listening PORT', then 'encoding' when a request arrives."""

import asyncio
import sys

from medsam_gui.serve.app import build_app
from medsam_gui.serve.runner import Listen, ServiceThread
from medsam_gui.serve.tokens import TokenStore


class Stuck:
    def __init__(self, name, model_id, preprocessing):
        self.name, self.model_id, self.preprocessing = name, model_id, preprocessing

    async def encode(self, image):
        print("encoding", flush=True)
        await asyncio.sleep(3600)


tokens_file, name, model_id, preprocessing = sys.argv[1:5]
service = ServiceThread(build_app({name: Stuck(name, model_id, preprocessing)}, TokenStore(tokens_file)), Listen(port=0))
service.start()
print(f"listening {service.port}", flush=True)
service.thread.join()
