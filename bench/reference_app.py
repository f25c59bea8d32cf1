"""The reference endpoint: the least a Twilio webhook with per-phone state can do, under the same gunicorn.

Verify the signature with twilio's RequestValidator, three Redis round trips on per-phone keys (GET, SET with
EX, DEL), TwiML from MessagingResponse. Kontor's webhook is compared with this (target: >= 0.8x its rate).
"""

from __future__ import annotations

import os

import redis
from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

app = Flask("reference")
TOKEN = os.environ["BENCH_TWILIO_TOKEN"]
client = redis.Redis.from_url(
    os.environ["BENCH_REDIS_URL"],
    socket_timeout=5,
    socket_connect_timeout=2,
    health_check_interval=30,
    retry_on_timeout=True,
)


@app.post("/sms/twilio")
def inbound() -> Response:
    if not RequestValidator(TOKEN).validate(request.url, request.form, request.headers.get("X-Twilio-Signature", "")):
        abort(403)
    phone = request.form.get("From", "")
    state = client.get(f"ref:{{{phone}}}:s") or b""
    client.set(f"ref:{{{phone}}}:s", (request.form.get("Body", "") + "|" + state.decode()[:200]), ex=5400)
    client.delete(f"ref:{{{phone}}}:lock")
    reply = MessagingResponse()
    reply.message("پاسخ: " + request.form.get("Body", ""))
    return Response(str(reply), mimetype="application/xml")


@app.get("/healthz")
def healthz() -> str:
    client.ping()
    return "ok"
