"""The user id space, shared by gateway users and local accounts (docs/auth.md "Users").

Plain constants, no model import: `logs.events` validates event user ids against them.

Gateway users keep the gateway's own id (new-api `users.id`), so the gateway's range starts at
1. Local accounts (createsuperuser, the admin, the demo login) take ids from a range no gateway
reaches, so that no event can name one. Every id stays at or below 2**53 - 1: new-api frontends
read the user id as a JavaScript number and echo it in `New-Api-User`.
"""

from __future__ import annotations

JS_SAFE_MAX = 2**53 - 1  # Number.MAX_SAFE_INTEGER
# The first local account is 9000000000000001: readable, and about 7 * 10**12 ids remain above.
LOCAL_ID_MIN = 9_000_000_000_000_001
LOCAL_ID_MAX = JS_SAFE_MAX
GATEWAY_ID_MAX = LOCAL_ID_MIN - 1
