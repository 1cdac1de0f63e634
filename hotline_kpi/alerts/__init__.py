"""Breach alerts by e-mail, exactly once (issue #5; docs/alerts.md).

The flow, one module a step:

- ``rules``: the rules file (hotline_kpi/defaults/alerts.yaml) validated into typed rules;
- ``conditions``: pure: a stored evaluation (and the last load per source) -> whether
  each rule's condition holds, with its figures;
- ``state``: pure: previous state + observation + time -> new state and the transition;
- ``outbox``: the store side: states, transitions (the outbox) and delivery attempts,
  written inside the evaluation's transaction; digests and resends;
- ``content`` and ``templates``: subject, text and HTML in Chinese or English;
- ``smtp``: the transport (stdlib smtplib), errors classified permanent or transient;
- ``dispatch``: claim one notification by conditional UPDATE, send it, record it;
- ``alerting``: the glue the service, the evaluation job and the CLI use.
"""
