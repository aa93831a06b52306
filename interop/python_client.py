"""Drive toolgate with the official MCP Python SDK (pinned in requirements.txt).

Usage:
    python_client.py http URL TOKEN MODE       MODE: legacy (initialize) | auto (server/discover first)
    python_client.py stdio TOOLGATE CONFIG SERVER GRANT
    python_client.py seed URL TOKEN OTHER_TOKEN  (the demo CRM under PolicyLayer's seed policy)

Exercises, through the gateway, whatever upstream sits behind it (server-everything in
scripts/interop.sh): the handshake, tools/list, tools/call with text and structured results,
progress notifications, an unknown tool, resources, prompts and ping. Prints one line per
check; exits non-zero on the first failure.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client


def check(cond: bool, what: str, detail: Any = "") -> None:
    if not cond:
        print(f"FAIL {what}: {detail}", flush=True)
        sys.exit(1)
    print(f"ok   {what}", flush=True)


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


async def exercise(client: Client, label: str) -> None:
    tools = await client.list_tools()
    names = {t.name for t in tools.tools}
    check({"echo", "get-sum", "trigger-long-running-operation"} <= names, f"{label}: tools/list", sorted(names))

    echo = await client.call_tool("echo", {"message": "through toolgate"})
    check(not echo.is_error and "through toolgate" in text_of(echo), f"{label}: tools/call echo", echo)

    total = await client.call_tool("get-sum", {"a": 19, "b": 23})
    check(not total.is_error and "42" in text_of(total), f"{label}: tools/call get-sum", total)

    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    slow = await client.call_tool(
        "trigger-long-running-operation", {"duration": 1, "steps": 3}, progress_callback=on_progress
    )
    check(not slow.is_error, f"{label}: long-running tool", slow)
    check(len(progress) == 3 and progress == sorted(progress), f"{label}: progress notifications", progress)

    unknown = await client.call_tool("no-such-tool", {})
    check(unknown.is_error, f"{label}: unknown tool is an error", unknown)

    resources = await client.list_resources()
    check(len(resources.resources) > 0, f"{label}: resources/list", len(resources.resources))
    first = resources.resources[0]
    read = await client.read_resource(str(first.uri))
    check(len(read.contents) > 0, f"{label}: resources/read {first.uri}", read)

    prompts = await client.list_prompts()
    check(any(p.name == "simple-prompt" for p in prompts.prompts), f"{label}: prompts/list")
    prompt = await client.get_prompt("simple-prompt")
    check(len(prompt.messages) > 0, f"{label}: prompts/get", prompt)


async def seed_policy(url: str, token: str, other_token: str) -> None:
    """The seed policy: createLead 30 a minute per grant, every other tool denied."""

    def connect(tok: str, mode: str) -> Client:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {tok}"}, timeout=httpx2.Timeout(30, read=60))
        return Client(streamable_http_client(url, http_client=http), mode=mode)

    async with connect(token, "legacy") as alice:
        for i in range(30):
            r = await alice.call_tool("createLead", {"title": f"python lead {i}"})
            check(not r.is_error, f"seed: createLead {i + 1}/30 allowed", r)
        r = await alice.call_tool("createLead", {"title": "one too many"})
        text = text_of(r)
        check(r.is_error and text.startswith("[POLICY DENIED]") and "30 per minute" in text, "seed: the 31st is refused", text)
        r = await alice.call_tool("getLeads", {})
        check(r.is_error and "[POLICY DENIED]" in text_of(r), "seed: another tool is denied with its reason", text_of(r))
    async with connect(other_token, "auto") as bob:
        r = await bob.call_tool("createLead", {"title": "bob's first"})
        check(not r.is_error, "seed: another grant has its own thirty (2026-07-28 client)", r)


async def main(argv: list[str]) -> None:
    if argv[0] == "http":
        url, token, mode = argv[1], argv[2], argv[3]
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30, read=60))
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            label = f"python {mode} {url}"
            await exercise(client, label)
            if mode == "legacy":
                await client.send_ping()
                check(True, f"{label}: ping")
    elif argv[0] == "stdio":
        toolgate, config, server, grant = argv[1:5]
        params = StdioServerParameters(
            command=toolgate, args=["stdio", "--config", config, "--server", server, "--grant", grant]
        )
        async with Client(params, mode="legacy") as client:
            await exercise(client, f"python stdio {server}")
    elif argv[0] == "seed":
        await seed_policy(argv[1], argv[2], argv[3])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
