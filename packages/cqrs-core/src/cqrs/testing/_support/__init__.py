"""Test support for this project's own CI; not a public API, it may change in any release.

`services` finds the real services the integration tests run against (skipping, or failing under
`CI`, when one is missing), `saga_crash` kills sagas at every write to test recovery, `polling`
collects from a polled queue under a deadline and `rabbitmq` deletes the queues a test's
consumer declared. Third parties test their implementations with the contract suites of
`cqrs.testing`, which use none of these.
"""

__all__: list[str] = []
