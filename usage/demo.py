"""Realistic raw events, as a new-api gateway would post them to `POST /api/log/`.

Used by `manage.py seed_demo`, by the benchmarks (`bench/ingest.py` posts them over HTTP,
`bench/load.py` COPYs millions of them) and by tests. Pure Python, no Django import, so that
benchmark client processes can use it without settings.

Deterministic: the same seed, `now`, day span and event count give the same events. Event `i`
depends only on the seed, `i` and the span (never on other events), so a long history can be
generated in parallel chunks, and its request id depends only on the seed and `i`: seeding
twice, even with another `now`, stores nothing twice.

The shape follows new-api's logs (reference notes section 6): quota = tokens x model ratio x
group ratio (500 000 quota = 1 USD), `other` carries the ratios, `frt` and
`admin_info.use_channel`; about 3 % of relay requests fail (type 5, quota 0); streams have a
first-token time; some requests read or write the prompt cache; a few top-ups and refunds.
"""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from usage.buckets import DAY

QUOTA_PER_USD = 500_000
CHUNK = 4096  # events generated from one random stream (the unit of parallel generation)


@dataclass(frozen=True, slots=True)
class DemoModel:
    name: str
    model_ratio: float  # 1.0 = 2 USD per million prompt tokens (new-api's unit)
    completion_ratio: float
    cache_ratio: float  # price of a cached prompt token relative to a fresh one
    prompt_median: int
    completion_median: int
    stream_share: float
    tokens_per_second: float
    first_token_ms: int  # median time to the first token of a stream
    endpoint: str
    channels: tuple[tuple[int, float], ...]  # (channel id, share of traffic)
    cache_share: float = 0.25  # share of requests that hit the prompt cache
    cache_write_share: float = 0.0  # share that write it (Anthropic's explicit caching)


OPENAI = ((1, 0.6), (2, 0.3), (7, 0.1))
ANTHROPIC = ((3, 0.7), (4, 0.25), (7, 0.05))
GOOGLE = ((5, 0.9), (7, 0.1))
DEEPSEEK = ((6, 0.85), (7, 0.15))

MODELS: tuple[DemoModel, ...] = (
    DemoModel("gpt-4o", 1.25, 4, 0.5, 1200, 350, 0.7, 80, 450, "/v1/chat/completions", OPENAI),
    DemoModel("gpt-4o-mini", 0.075, 4, 0.5, 900, 250, 0.6, 120, 350, "/v1/chat/completions",
              OPENAI),
    DemoModel("gpt-4.1", 1.0, 4, 0.25, 2500, 500, 0.7, 70, 500, "/v1/responses", OPENAI),
    DemoModel("gpt-4.1-mini", 0.2, 4, 0.25, 1500, 300, 0.6, 110, 400, "/v1/chat/completions",
              OPENAI),
    DemoModel("o3-mini", 0.55, 4, 0.5, 1500, 1800, 0.5, 100, 2500, "/v1/chat/completions",
              OPENAI),
    DemoModel("o4-mini", 0.55, 4, 0.25, 1800, 1500, 0.5, 110, 2200, "/v1/responses", OPENAI),
    DemoModel("claude-sonnet-4-20250514", 1.5, 5, 0.1, 3000, 600, 0.8, 60, 900, "/v1/messages",
              ANTHROPIC, 0.3, 0.1),
    DemoModel("claude-3-5-haiku-20241022", 0.4, 5, 0.1, 1500, 300, 0.7, 120, 600,
              "/v1/messages", ANTHROPIC, 0.3, 0.1),
    DemoModel("gemini-2.5-pro", 0.625, 8, 0.25, 4000, 900, 0.6, 70, 1800,
              "/v1/chat/completions", GOOGLE),
    DemoModel("gemini-2.0-flash", 0.05, 4, 0.25, 2000, 400, 0.6, 200, 400,
              "/v1/chat/completions", GOOGLE),
    DemoModel("deepseek-chat", 0.135, 4.07, 0.26, 1500, 450, 0.8, 50, 800,
              "/v1/chat/completions", DEEPSEEK),
    DemoModel("deepseek-reasoner", 0.275, 3.98, 0.25, 1500, 1500, 0.8, 45, 3000,
              "/v1/chat/completions", DEEPSEEK),
    DemoModel("text-embedding-3-small", 0.01, 1, 1, 300, 0, 0.0, 1, 0, "/v1/embeddings",
              ((1, 0.7), (2, 0.3)), 0.0),
)  # fmt: skip
MODEL_BY_NAME = {model.name: model for model in MODELS}

CHANNELS: dict[int, str] = {
    1: "openai-primary",
    2: "azure-eastus",
    3: "anthropic-direct",
    4: "aws-bedrock-claude",
    5: "google-gemini",
    6: "deepseek-official",
    7: "openrouter-fallback",
}
GROUP_RATIOS = {"default": 1.0, "vip": 0.9, "svip": 0.8}


@dataclass(frozen=True, slots=True)
class DemoUser:
    id: int
    username: str
    group: str
    weight: float  # share of the traffic
    tokens: tuple[tuple[int, str], ...]  # the user's API keys: (token id, token name)
    models: tuple[tuple[str, float], ...]  # preferred models and their shares
    ips: tuple[str, ...]


# Gateway user ids (local accounts have ids of their own range, accounts.ids); from 101.
USERS: tuple[DemoUser, ...] = (
    DemoUser(101, "alice", "vip", 0.26, ((11, "prod-backend"), (12, "staging")),
             (("gpt-4o", 0.35), ("gpt-4o-mini", 0.3), ("gpt-4.1", 0.15),
              ("text-embedding-3-small", 0.2)), ("203.0.113.10", "203.0.113.11")),
    DemoUser(102, "bob", "default", 0.14, ((21, "default"),),
             (("claude-sonnet-4-20250514", 0.6), ("claude-3-5-haiku-20241022", 0.4)),
             ("198.51.100.23",)),
    DemoUser(103, "carol", "svip", 0.18, ((31, "cursor"), (32, "ci-review-bot")),
             (("claude-sonnet-4-20250514", 0.45), ("gpt-4.1", 0.25), ("o4-mini", 0.15),
              ("gemini-2.5-pro", 0.15)), ("2001:db8:85a3::8a2e:370:7334", "192.0.2.44")),
    DemoUser(104, "dave", "default", 0.08, ((41, "n8n-workflows"),),
             (("gpt-4o-mini", 0.6), ("gemini-2.0-flash", 0.4)), ("192.0.2.77",)),
    DemoUser(105, "erin", "vip", 0.1, ((51, "research"), (52, "notebook")),
             (("o3-mini", 0.35), ("deepseek-reasoner", 0.35), ("gemini-2.5-pro", 0.3)),
             ("198.51.100.5",)),
    DemoUser(106, "frank", "default", 0.06, ((61, "default"),),
             (("deepseek-chat", 0.8), ("deepseek-reasoner", 0.2)), ("203.0.113.99",)),
    DemoUser(107, "grace", "default", 0.07, ((71, "support-bot"), (72, "translations")),
             (("gpt-4o-mini", 0.5), ("gemini-2.0-flash", 0.3), ("gpt-4.1-mini", 0.2)),
             ("2001:db8::1f",)),
    DemoUser(108, "heidi", "default", 0.04, ((81, "default"),),
             (("claude-3-5-haiku-20241022", 0.5), ("gpt-4o", 0.5)), ("192.0.2.150",)),
    DemoUser(109, "ivan", "vip", 0.05, ((91, "data-pipeline"),),
             (("deepseek-chat", 0.5), ("gpt-4.1-mini", 0.3), ("text-embedding-3-small", 0.2)),
             ("198.51.100.200",)),
    DemoUser(110, "judy", "default", 0.02, ((101, "hobby"),),
             (("gpt-4o", 0.4), ("claude-sonnet-4-20250514", 0.4), ("gemini-2.0-flash", 0.2)),
             ("203.0.113.7",)),
)  # fmt: skip
# User 109 is renamed on the gateway two thirds into the history: its later events carry the
# new name, which then replaces the old one here.
RENAMES: dict[int, tuple[float, str]] = {109: (2 / 3, "ivan.petrov")}

# Relay traffic by hour of the day (UTC) and by weekday (Monday first).
HOURLY = (0.25, 0.2, 0.15, 0.12, 0.12, 0.15, 0.25, 0.45, 0.75, 1.0, 1.1, 1.15,
          1.0, 1.05, 1.15, 1.2, 1.1, 0.95, 0.8, 0.7, 0.65, 0.6, 0.5, 0.35)  # fmt: skip
WEEKDAY = (1.0, 1.05, 1.05, 1.0, 0.95, 0.55, 0.45)

ERROR_SHARE = 0.03
RETRY_SHARE = 0.04  # requests that needed a second channel (admin_info.use_channel has two)
TOPUP_SHARE = 0.002
REFUND_SHARE = 0.0005
ERRORS = (
    (429, "rate_limit_exceeded", "upstream_error",
     "status_code=429, Rate limit reached for requests, please try again later"),
    (500, "server_error", "upstream_error",
     "status_code=500, The server had an error while processing your request"),
    (400, "context_length_exceeded", "openai_error",
     "status_code=400, This model's maximum context length is 128000 tokens"),
    (503, "model_not_available", "new_api_error",
     "status_code=503, No available channel for this model under the current group"),
    (504, "upstream_timeout", "upstream_error", "status_code=504, upstream request timed out"),
)  # fmt: skip


SYNTHETIC_SHARE = 0.7  # of the traffic, when synthetic users are added
TOKEN_NAMES = ("default", "prod", "dev", "cursor", "cline", "n8n", "langchain-app", "batch-jobs")


def synthetic_users(*, seed: int, count: int) -> tuple[DemoUser, ...]:
    """`count` more users (ids from 10001, "user10001", ...) for a busy gateway's cardinality:
    Zipf-distributed traffic, one to four models each, one to three API keys."""
    if count <= 0:
        return ()
    rng = random.Random(f"tokenledger-demo-users:{seed}")  # noqa: S311 (not secrets)
    zipf = [1 / (rank + 1) ** 1.1 for rank in range(count)]
    scale = SYNTHETIC_SHARE / (1 - SYNTHETIC_SHARE) / sum(zipf)
    names = [model.name for model in MODELS]
    made = []
    for n in range(count):
        uid = 10001 + n
        chosen = rng.sample(names, rng.randint(1, 4))
        keys = rng.randint(1, 3)
        made.append(
            DemoUser(
                id=uid,
                username=f"user{uid}",
                group=rng.choices(("default", "vip", "svip"), (0.8, 0.15, 0.05))[0],
                weight=zipf[n] * scale,
                tokens=tuple((uid * 10 + k, rng.choice(TOKEN_NAMES)) for k in range(keys)),
                models=tuple((name, rng.random() + 0.1) for name in chosen),
                ips=tuple(
                    f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randint(1, 254)}"
                    for _ in range(rng.randint(1, 2))
                ),
            )
        )
    return tuple(made)


def request_id(seed: int, index: int) -> str:
    """The request id of event `index`: stable for a seed whatever the span and `now`.

    Like new-api's (a time string, then random characters), ids grow with time, which is what
    the indexes on request ids see in production: inserts at their right edge, not at random
    pages. The position stands in for the time, so that the id does not depend on `now`."""
    suffix = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=6).hexdigest()
    return f"{index:012d}{suffix}"


class Timeline:
    """Maps event positions to timestamps following the daily and weekly rhythm.

    Event i of n gets the time where the cumulative traffic reaches (i + u) / n of the total,
    u being uniform in [0, 1): times are non-decreasing in i and each depends on i alone."""

    def __init__(self, *, now: int, days: float) -> None:
        self.end = int(now)
        self.start = self.end - int(days * DAY)
        first_hour = self.start - self.start % 3600
        self.hour_starts: list[int] = []
        self.cumulative: list[float] = []
        total = 0.0
        span = max(1, self.end - self.start)
        hour = first_hour
        while hour < self.end:
            low, high = max(hour, self.start), min(hour + 3600, self.end)
            when = datetime.fromtimestamp(hour, tz=UTC)
            growth = 1.0 + 0.3 * (low - self.start) / span  # the gateway gains traffic
            weight = HOURLY[when.hour] * WEEKDAY[when.weekday()] * growth * (high - low) / 3600
            if weight > 0:
                total += weight
                self.hour_starts.append(low)
                self.cumulative.append(total)
            hour += 3600
        self.total = total

    def at(self, fraction: float) -> int:
        """The timestamp where the traffic's cumulative share reaches `fraction` (0..1)."""
        target = fraction * self.total
        k = min(bisect_right(self.cumulative, target), len(self.cumulative) - 1)
        before = self.cumulative[k - 1] if k else 0.0
        weight = self.cumulative[k] - before
        low = self.hour_starts[k]
        high = min(low - low % 3600 + 3600, self.end)
        offset = (target - before) / weight * (high - low) if weight else 0.0
        return min(self.end, low + int(offset))


def _weighted(pairs: tuple[tuple[Any, float], ...]) -> tuple[list[Any], list[float]]:
    values = [value for value, _ in pairs]
    cumulative: list[float] = []
    total = 0.0
    for _, weight in pairs:
        total += weight
        cumulative.append(total)
    return values, cumulative


class DemoGenerator:
    """`DemoGenerator(seed=42, days=30, events=100_000, now=...)`; iterate `events()` or
    `chunk(k)` (events k*CHUNK .. (k+1)*CHUNK-1, for parallel generation)."""

    def __init__(
        self, *, seed: int = 42, days: float = 30, events: int, now: int, users: int = len(USERS)
    ) -> None:
        if events < 0:
            raise ValueError("events must be >= 0")
        if days <= 0:
            raise ValueError("days must be > 0")
        if users < len(USERS):
            raise ValueError(f"users must be >= {len(USERS)}")
        self.seed = seed
        self.count = events
        self.timeline = Timeline(now=now, days=days)
        everyone = USERS + synthetic_users(seed=seed, count=users - len(USERS))
        self.users, self.user_cumulative = _weighted(tuple((u, u.weight) for u in everyone))
        self.user_models = {
            user.id: _weighted(tuple((MODEL_BY_NAME[m], w) for m, w in user.models))
            for user in everyone
        }
        self.model_channels = {model.name: _weighted(model.channels) for model in MODELS}
        self.model_logs = {
            model.name: (
                math.log(model.prompt_median),
                math.log(model.completion_median or 1),
                math.log(model.first_token_ms or 1),
            )
            for model in MODELS
        }
        # new-api's billing note of a consume log (older versions; newer ones leave it empty).
        self.contents = {
            (model.name, group): f"model ratio {model.model_ratio:.2f}, completion ratio "
            f"{model.completion_ratio:.2f}, group ratio {ratio:.2f}"
            for model in MODELS
            for group, ratio in GROUP_RATIOS.items()
        }

    @property
    def chunks(self) -> int:
        return math.ceil(self.count / CHUNK)

    def events(self) -> Iterator[dict[str, Any]]:
        for k in range(self.chunks):
            yield from self.chunk(k)

    def chunk(self, k: int) -> list[dict[str, Any]]:
        rng = random.Random(f"tokenledger-demo:{self.seed}:{k}")  # noqa: S311 (not secrets)
        first = k * CHUNK
        return [self._event(rng, i) for i in range(first, min(first + CHUNK, self.count))]

    def _username(self, user: DemoUser, created_at: int) -> str:
        rename = RENAMES.get(user.id)
        if rename is not None:
            share, new_name = rename
            span = self.timeline.end - self.timeline.start
            if created_at >= self.timeline.start + share * span:
                return new_name
        return user.username

    def _event(self, rng: random.Random, index: int) -> dict[str, Any]:
        # The draws happen in a fixed order whatever the branch taken below, so that every
        # event's randomness depends only on the seed and its position.
        draw, gauss = rng.random, rng.gauss
        u_time, u_user, u_kind, u_model, u_channel, u_token, u_ip = (
            draw(),
            draw(),
            draw(),
            draw(),
            draw(),
            draw(),
            draw(),
        )
        created_at = self.timeline.at((index + u_time) / self.count)
        user: DemoUser = self.users[
            min(
                bisect_right(self.user_cumulative, u_user * self.user_cumulative[-1]),
                len(self.users) - 1,
            )
        ]
        username = self._username(user, created_at)
        ip = user.ips[int(u_ip * len(user.ips))] if u_ip < 0.97 else None
        base: dict[str, Any] = {
            "request_id": request_id(self.seed, index),
            "created_at": created_at,
            "user_id": user.id,
            "username": username,
            "group": user.group,
            "ip": ip,
        }
        if u_kind < TOPUP_SHARE:
            return self._topup(rng, base)
        if u_kind < TOPUP_SHARE + REFUND_SHARE:
            return self._refund(rng, base)

        models, model_cumulative = self.user_models[user.id]
        model: DemoModel = models[
            min(bisect_right(model_cumulative, u_model * model_cumulative[-1]), len(models) - 1)
        ]
        channels, channel_cumulative = self.model_channels[model.name]
        channel_id: int = channels[
            min(
                bisect_right(channel_cumulative, u_channel * channel_cumulative[-1]),
                len(channels) - 1,
            )
        ]
        token_id, token_name = user.tokens[int(u_token * len(user.tokens))]
        group_ratio = GROUP_RATIOS[user.group]
        use_channel = [str(channel_id)]
        if draw() < RETRY_SHARE:
            fallback = 7 if channel_id != 7 else channels[0]
            use_channel = [str(fallback), str(channel_id)]
        base.update(
            token_id=token_id,
            token_name=token_name,
            model_name=model.name,
            channel_id=channel_id,
            channel_name=CHANNELS[channel_id],
            endpoint=model.endpoint,
        )
        # Draw everything the consume branch needs, also for errors (fixed draw order).
        # Log-normal token counts and latencies around each model's medians.
        log_prompt, log_completion, log_first_token = self.model_logs[model.name]
        prompt = max(1, int(math.exp(log_prompt + 0.9 * gauss())))
        completion = (
            max(1, int(math.exp(log_completion + 0.8 * gauss()))) if model.completion_median else 0
        )
        is_stream = draw() < model.stream_share
        first_token = int(math.exp(log_first_token + 0.5 * gauss()))
        cache_draw, cache_part, error_draw = draw(), draw(), draw()

        if u_kind > 1 - ERROR_SHARE:
            status, code, error_type, message = ERRORS[int(error_draw * len(ERRORS))]
            duration = 200 + int(cache_part * (30000 if status == 504 else 3000))
            base.update(
                type=5,
                content=message,
                quota=0,
                is_stream=is_stream,
                use_time=duration // 1000,
                duration_ms=duration,
                other={
                    "error_type": error_type,
                    "error_code": code,
                    "status_code": status,
                    "channel_id": channel_id,
                    "channel_name": CHANNELS[channel_id],
                    "channel_type": 1,
                    "admin_info": {"use_channel": use_channel},
                    "request_path": model.endpoint,
                },
            )
            return base

        cache_read = cache_write = 0
        if cache_draw < model.cache_share:
            cache_read = int(prompt * (0.3 + 0.6 * cache_part)) // 128 * 128
        elif cache_draw < model.cache_share + model.cache_write_share:
            cache_write = int(prompt * (0.5 + 0.4 * cache_part))
        generation_ms = int(completion / model.tokens_per_second * 1000)
        duration = (first_token if model.completion_median else 150) + generation_ms
        weighted = (
            prompt
            - cache_read
            + cache_read * model.cache_ratio
            + cache_write * 1.25
            + completion * model.completion_ratio
        )
        quota = max(1, round(weighted * model.model_ratio * group_ratio))
        other: dict[str, Any] = {
            "model_ratio": model.model_ratio,
            "group_ratio": group_ratio,
            "completion_ratio": model.completion_ratio,
            "cache_tokens": cache_read,
            "cache_ratio": model.cache_ratio,
            "model_price": -1,
            "user_group_ratio": -1,
            "frt": first_token if is_stream else -1000,
            "admin_info": {"use_channel": use_channel},
            "request_path": model.endpoint,
        }
        if cache_write:
            other["cache_creation_tokens"] = cache_write
            other["cache_creation_ratio"] = 1.25
        base.update(
            type=2,
            content=self.contents[model.name, user.group],
            quota=quota,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cache_read_tokens=cache_read,
            cache_creation_tokens=cache_write,
            use_time=duration // 1000,
            duration_ms=duration,
            first_token_ms=first_token if is_stream else None,
            is_stream=is_stream,
            other=other,
        )
        return base

    def _topup(self, rng: random.Random, base: dict[str, Any]) -> dict[str, Any]:
        usd = rng.choice((5, 10, 20, 50, 100))
        method = rng.choice(("stripe", "alipay", "redemption code"))
        base.update(
            type=1,
            content=f"Top-up of {usd:.2f} USD via {method}",
            quota=usd * QUOTA_PER_USD,
            other={"admin_info": {"payment_method": method}},
        )
        return base

    def _refund(self, rng: random.Random, base: dict[str, Any]) -> dict[str, Any]:
        quota = int(rng.lognormvariate(math.log(20_000), 1.0)) + 1
        base.update(
            type=6,
            content=f"Refund of {quota / QUOTA_PER_USD:.6f} USD for a failed async task",
            quota=quota,
            other={"reason": "task_failed"},
        )
        return base


def demo_events(
    *, seed: int = 42, days: float = 30, events: int, now: int, users: int = len(USERS)
) -> Iterator[dict]:
    """`events` raw events spread over the `days` before `now` (Unix seconds), oldest first."""
    return DemoGenerator(seed=seed, days=days, events=events, now=now, users=users).events()
