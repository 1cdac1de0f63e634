"""Mail templates (Jinja2), text and HTML, shared by both languages.

The words come from :mod:`hotline_kpi.alerts.content` (``L``); the templates only lay
them out. They live here as strings rather than files so that any install of the
package (wheel, editable, zipped) has them. HTML is rendered with autoescape on: every
value from data or config (indicator names, notes, file names, addresses) is escaped.
"""

from __future__ import annotations

_FACTS_TEXT = """{% for label, value in facts %}{{ label }}: {{ value }}
{% endfor %}"""

ALERT_TEXT = """{{ headline }}

""" + _FACTS_TEXT + """{% if notes %}
{% for n in notes %}{{ n }}
{% endfor %}{% endif %}{% if periods %}
{{ L.periods }}
{% for p in periods %}  {{ p.label }}: {{ p.value }} ({{ L.target }} {{ p.target }}, {{ p.status }}){% if p.days %} · {{ p.days }}{% endif %}
{% endfor %}{% endif %}{% if days %}
{{ L.last_14_days }}
{% for d in days %}  {{ d.date }}  {{ "%-12s"|format(d.value) }} {{ d.status }}
{% endfor %}{% endif %}
{{ L.completeness }}: {{ completeness }}
{% for label, url in links %}{{ label }}: {{ url }}
{% endfor %}
-- 
{{ footer }}
"""

DIGEST_TEXT = """{{ headline }}

{% for a in alerts %}[{{ a.severity }}] {{ a.headline }}
  {{ L.fired_at }}: {{ a.fired_at }}
{% endfor %}
{% for label, url in links %}{{ label }}: {{ url }}
{% endfor %}
-- 
{{ footer }}
"""

TEST_TEXT = """{{ headline }}

{{ body }}

-- 
{{ footer }}
"""

_STYLE = """<style>
body { font-family: -apple-system, "PingFang SC", "Microsoft YaHei", Arial, sans-serif; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.met { color: #1a7f37; } .breached { color: #c62828; font-weight: bold; } .no_data { color: #8a6d00; }
.critical { background: #c62828; color: #fff; padding: 2px 6px; }
.warning { background: #f0ad4e; color: #000; padding: 2px 6px; }
.resolved { background: #1a7f37; color: #fff; padding: 2px 6px; }
.footer { color: #777; font-size: small; }
</style>"""

ALERT_HTML = """<!DOCTYPE html>
<html lang="{{ html_lang }}"><head><meta charset="utf-8"><title>{{ subject }}</title>""" + _STYLE + """</head>
<body>
<p><span class="{{ badge_class }}">{{ badge }}</span> <strong>{{ headline }}</strong></p>
<table>
{% for label, value in facts %}<tr><th>{{ label }}</th><td>{{ value }}</td></tr>
{% endfor %}</table>
{% for n in notes %}<p>{{ n }}</p>
{% endfor %}{% if periods %}<h3>{{ L.periods }}</h3>
<table><tr><th>{{ L.window }}</th><th>{{ L.value }}</th><th>{{ L.target }}</th><th>{{ L.status }}</th><th>{{ L.days_with_data }}</th></tr>
{% for p in periods %}<tr><td>{{ p.label }}</td><td class="num">{{ p.value }}</td><td>{{ p.target }}</td><td class="{{ p.status_class }}">{{ p.status }}</td><td class="num">{{ p.days }}</td></tr>
{% endfor %}</table>
{% endif %}{% if days %}<h3>{{ L.last_14_days }}</h3>
<table><tr><th>{{ L.date }}</th><th>{{ L.value }}</th><th>{{ L.status }}</th></tr>
{% for d in days %}<tr><td>{{ d.date }}</td><td class="num">{{ d.value }}</td><td class="{{ d.status_class }}">{{ d.status }}</td></tr>
{% endfor %}</table>
{% endif %}<p>{{ L.completeness }}: {{ completeness }}</p>
{% if links %}<p>{% for label, url in links %}<a href="{{ url }}">{{ label }}</a>{% if not loop.last %} · {% endif %}{% endfor %}</p>
{% endif %}<p class="footer">{{ footer }}</p>
</body></html>
"""

DIGEST_HTML = """<!DOCTYPE html>
<html lang="{{ html_lang }}"><head><meta charset="utf-8"><title>{{ subject }}</title>""" + _STYLE + """</head>
<body>
<p><strong>{{ headline }}</strong></p>
<table><tr><th>{{ L.severity }}</th><th>{{ L.alert }}</th><th>{{ L.fired_at }}</th></tr>
{% for a in alerts %}<tr><td><span class="{{ a.severity_class }}">{{ a.severity }}</span></td><td>{{ a.headline }}</td><td>{{ a.fired_at }}</td></tr>
{% endfor %}</table>
{% if links %}<p>{% for label, url in links %}<a href="{{ url }}">{{ label }}</a>{% if not loop.last %} · {% endif %}{% endfor %}</p>
{% endif %}<p class="footer">{{ footer }}</p>
</body></html>
"""

TEST_HTML = """<!DOCTYPE html>
<html lang="{{ html_lang }}"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body><p><strong>{{ headline }}</strong></p><p>{{ body }}</p><p class="footer">{{ footer }}</p></body></html>
"""
