"""scripts/discord-register against a local fake of Discord's API: the exact request it
sends (a bulk overwrite of the global commands with the bot token), what it says on a
refusal, and that the token is never printed."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "discord-register")
APP_ID = "1234567890123456789"
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.fake.bot-token_for-tests"

EXPECTED_COMMANDS = [
    {
        "name": "start",
        "type": 1,
        "description": "Start a game server of this domain",
        "options": [
            {"type": 3, "name": "name", "description": "The server's name, as /status lists it", "required": True}
        ],
    },
    {"name": "status", "type": 1, "description": "Show each game server's state, address and players"},
]


class FakeDiscord:
    """Records every request; answers with `status` and `body` (default: Discord's
    answer to a bulk overwrite, the commands with ids)."""

    def __init__(self, status=200, body=None):
        self.requests = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                fake.requests.append(
                    {"method": "PUT", "path": self.path, "headers": dict(self.headers.items()), "body": raw}
                )
                if body is None:
                    sent = json.loads(raw)
                    answer = [dict(c, id=str(100 + i), application_id=APP_ID) for i, c in enumerate(sent)]
                else:
                    answer = body
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v10"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def discord():
    fakes = []

    def start(status=200, body=None):
        fake = FakeDiscord(status, body)
        fakes.append(fake)
        return fake

    yield start
    for fake in fakes:
        fake.close()


def run(args, api_url=None, token=TOKEN):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCORD_")}
    if api_url:
        env["DISCORD_API_URL"] = api_url
    if token is not None:
        env["DISCORD_BOT_TOKEN"] = token
    return subprocess.run(
        [sys.executable, SCRIPT, *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_overwrites_the_two_commands_with_the_bot_token(discord):
    fake = discord()
    out = run([APP_ID], fake.url)
    assert out.returncode == 0, out.stderr
    assert len(fake.requests) == 1
    request = fake.requests[0]
    assert request["method"] == "PUT"
    assert request["path"] == f"/api/v10/applications/{APP_ID}/commands"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["authorization"] == f"Bot {TOKEN}"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("DiscordBot (")
    assert json.loads(request["body"]) == EXPECTED_COMMANDS
    assert out.stdout.strip() == (
        f"Registered 2 commands for application {APP_ID}: /start (id 100), /status (id 101)"
    )
    assert TOKEN not in out.stdout + out.stderr


def test_a_refusal_says_what_discord_answered_and_fails(discord):
    fake = discord(401, {"message": "401: Unauthorized", "code": 0})
    out = run([APP_ID], fake.url)
    assert out.returncode == 1
    assert "Discord answered 401 Unauthorized to PUT" in out.stderr
    assert '"401: Unauthorized"' in out.stderr
    assert "DISCORD_BOT_TOKEN was refused" in out.stderr
    assert TOKEN not in out.stdout + out.stderr

    limited = discord(429, {"message": "You are being rate limited.", "retry_after": 1.5, "global": False})
    out = run([APP_ID], limited.url)
    assert out.returncode == 1
    assert "Discord answered 429" in out.stderr and "retry_after" in out.stderr


def test_an_answer_that_is_not_a_command_list_fails(discord):
    fake = discord(200, {"unexpected": True})
    out = run([APP_ID], fake.url)
    assert out.returncode == 1
    assert "is not a list of commands" in out.stderr


def test_an_unreachable_api_fails_clearly():
    # A port nothing listens on any more.
    fake = FakeDiscord()
    fake.close()
    out = run([APP_ID], fake.url)
    assert out.returncode == 1
    assert "could not reach" in out.stderr
    assert TOKEN not in out.stdout + out.stderr


@pytest.mark.parametrize(
    "args, token, message",
    [
        ([], TOKEN, "APPLICATION_ID is missing"),
        (["not-an-id"], TOKEN, "APPLICATION_ID must be the application's id"),
        ([APP_ID], None, "DISCORD_BOT_TOKEN is not set"),
        ([APP_ID], "two words", "DISCORD_BOT_TOKEN holds spaces"),
    ],
)
def test_bad_arguments_send_nothing(discord, args, token, message):
    fake = discord()
    out = run(args, fake.url, token=token)
    assert out.returncode == 2
    assert message in out.stderr
    assert fake.requests == []
    assert TOKEN not in out.stdout + out.stderr
