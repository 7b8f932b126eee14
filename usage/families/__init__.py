"""The edges of the statistics API families (API.md sections 4-7).

Each module is one family: its envelope, its error shape, its base view and its thin views over
`usage.selectors`. The families differ only in those; the numbers all come from the same
selectors, the parameters are validated by the input serializers of `usage.serializers`, and
dates, zones and buckets are resolved by `usage.buckets`.
"""
