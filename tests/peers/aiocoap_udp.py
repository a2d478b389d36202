"""aiocoap as a whole OSCORE endpoint over real UDP, with a security context our CLI wrote
(`simbridge oscore show --reveal --aiocoap DIR`).

  aiocoap_udp.py client DIR URI        GET URI under the context in DIR; prints the code and payload
  aiocoap_udp.py server DIR PORT TEXT  serves /example_data (GET answers TEXT) on 127.0.0.1:PORT
                                       under the context in DIR; prints "ready" once bound
"""

import asyncio
import sys
import warnings

import aiocoap
import aiocoap.resource as resource
from aiocoap.credentials import CredentialsMap
from aiocoap.oscore_sitewrapper import OscoreSiteWrapper

warnings.simplefilter("ignore", DeprecationWarning)


async def client(ctxdir, uri):
    ctx = await aiocoap.Context.create_client_context()
    ctx.client_credentials.load_from_dict({uri: {"oscore": {"contextfile": ctxdir}}})
    resp = await asyncio.wait_for(
        ctx.request(aiocoap.Message(code=aiocoap.GET, uri=uri)).response, 30
    )
    print(resp.code, resp.payload.decode("utf-8", "replace"))
    await ctx.shutdown()


class Data(resource.Resource):
    def __init__(self, text):
        super().__init__()
        self.text = text

    async def render_get(self, request):
        return aiocoap.Message(payload=self.text.encode())


async def server(ctxdir, port, text):
    site = resource.Site()
    site.add_resource(["example_data"], Data(text))
    creds = CredentialsMap()
    creds.load_from_dict({":gateway": {"oscore": {"contextfile": ctxdir}}})
    site = OscoreSiteWrapper(site, creds)
    await aiocoap.Context.create_server_context(
        site, bind=("127.0.0.1", int(port)), server_credentials=creds
    )
    print("ready", flush=True)
    await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    if sys.argv[1] == "client":
        asyncio.run(client(sys.argv[2], sys.argv[3]))
    else:
        asyncio.run(server(sys.argv[2], sys.argv[3], sys.argv[4]))
