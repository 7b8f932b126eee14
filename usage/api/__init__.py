"""The statistics API dialects (API.md sections 4-7), one module each: new-api's `/api/data/`
(`newapi`), sub2api (`sub2api`), AceData (`acedata`) and r9s.ai (`r9s`).

Each module holds its dialect's views, their parameter serializers, their response shapes and
its error shape; `base` is the shared base view and error report, `fields` the shared fields.
The numbers all come from the same `usage.selectors`; dates, zones and buckets are resolved by
`usage.buckets`.
"""
