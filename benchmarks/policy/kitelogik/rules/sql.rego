# SQL rules (8 rules). Consulted only for tools of kind "sql".
package kitelogik.bench.rules.sql

import rego.v1

c := data.kitelogik.bench.lib.cfg.sql

q := lower(data.kitelogik.bench.lib.str_arg("query"))

deny contains data.kitelogik.bench.lib.v("sql.no_query", "a SQL tool needs a query string") if not data.kitelogik.bench.lib.has_str_arg("query")

deny contains data.kitelogik.bench.lib.v("sql.destructive_keyword", sprintf("the query uses '%s'", [k])) if {
	some k in c.destructive_keywords
	regex.match(concat("", [`\b`, k, `\b`]), q)
}

deny contains data.kitelogik.bench.lib.v("sql.write_in_read_tool", "read-only SQL tools may not modify data") if {
	data.kitelogik.bench.lib.tool.op == "read"
	regex.match(`^\s*(insert|update|delete|merge|create|replace)\b`, q)
}

deny contains data.kitelogik.bench.lib.v("sql.multiple_statements", "one statement per call") if {
	trimmed := trim_right(trim_space(q), ";")
	contains(trimmed, ";")
}

deny contains data.kitelogik.bench.lib.v("sql.sensitive_table", sprintf("table '%s' is off limits", [t])) if {
	some t in c.sensitive_tables
	contains(q, t)
}

deny contains data.kitelogik.bench.lib.v("sql.delete_without_where", "DELETE/UPDATE without WHERE") if {
	regex.match(`^\s*(delete|update)\b`, q)
	not contains(q, " where ")
}

deny contains data.kitelogik.bench.lib.v("sql.comment", "SQL comments are not allowed") if {
	some marker in ["--", "/*"]
	contains(q, marker)
}

requires_hitl contains data.kitelogik.bench.lib.v("sql.write_needs_approval", "writes to the database need a human") if data.kitelogik.bench.lib.tool.op == "write"
