"""gunicorn's settings for Tokenledger: `gunicorn -c config/gunicorn.conf.py
config.wsgi:application`, used by `make run` and by the command in docs/deploy.md, so that a
developer's server and production parse requests alike. Process counts, the bind address and
timeouts stay on the command line (they differ per machine); command-line flags win over this
file.

gunicorn answers a request it refuses to parse with an HTML page of its own, before Django sees
it. The limits below are set so that every request an API client can legitimately send reaches
Django, which answers it (or refuses it) in the family's JSON shape (docs/deploy.md, "Request
size limits")."""

# --- request line and headers ------------------------------------------------------------------

# gunicorn bounds the request line at most at 8190 bytes, or not at all (0). An AceData query
# with its 100 `api_id` values of up to 128 characters, percent-encoded, is longer than that, so
# gunicorn takes any length here. The bound is the reverse proxy's (docs/deploy.md: 64 KiB,
# beyond which it answers 414); what reaches Django is bounded by Django's own limits, which
# answer in the family's shape (at most DATA_UPLOAD_MAX_NUMBER_FIELDS parameters, each parameter
# at most its documented length).
limit_request_line = 0

# One header line (name and value) up to 64 KiB, the proxy's bound too: a large cookie jar on a
# shared domain still reaches Django. Beyond it gunicorn answers 431 itself.
limit_request_field_size = 65536

# gunicorn's default; a browser sends about 15 headers, an API client fewer.
limit_request_fields = 100

# gunicorn has no setting for its `Server` header: config/wsgi.py drops it when it runs inside
# gunicorn (config/gunicorn_server_header.py), however gunicorn is started.
