"""The one test harness every tier imports (never another tier):

- `tests.support.stack`: config (`write_config`, `set_config`), `free_port`, databases (`DATABASES`, `POSTGRES`,
  `reset_database`) and `Stack`, Kontor's real processes (`kontor sandbox/web/worker`) with signed posts.
- `tests.support.hook`: `running_hook`/`Hook`, the real Flask app in process, with `settings_for`, `flush`, `replies`.
- `tests.support.twilio_standin`: `TwilioStandIn`, Twilio's Messages API on loopback.
Both sign and read replies through `sms_gateway.webhook_client` and start processes through `sms_gateway.procs`,
as `kontor phone` and `make bench` do.
"""
