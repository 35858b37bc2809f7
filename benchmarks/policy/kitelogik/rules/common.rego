# Rules for every tool call (6 rules).
package kitelogik.bench.rules.common

import rego.v1

deny contains data.kitelogik.bench.lib.v("common.not_tool_call", "only tool_call events are governed by this bundle") if object.get(data.kitelogik.bench.lib.inp, "event_type", null) != "tool_call"

deny contains data.kitelogik.bench.lib.v("common.unknown_tool", sprintf("tool '%s' is not registered", [data.kitelogik.bench.lib.action])) if not data.kitelogik.bench.lib.registered

deny contains data.kitelogik.bench.lib.v("common.role", sprintf("role '%s' may not use '%s'", [data.kitelogik.bench.lib.role, data.kitelogik.bench.lib.action])) if {
	data.kitelogik.bench.lib.registered
	roles := object.get(data.kitelogik.bench.lib.tool, "roles", [])
	not "*" in roles
	not data.kitelogik.bench.lib.role in roles
}

deny contains data.kitelogik.bench.lib.v("common.no_session", "a session id is required") if not data.kitelogik.bench.lib.has_session

deny contains data.kitelogik.bench.lib.v("common.delegation_depth", "delegated agents beyond depth 3 may not call tools") if {
	depth := object.get(data.kitelogik.bench.lib.ctx, "delegation_depth", 0)
	is_number(depth)
	depth > 3
}

deny contains data.kitelogik.bench.lib.v("common.args_object", "args must be an object") if {
	x := object.get(data.kitelogik.bench.lib.inp, "args", {})
	not is_object(x)
}
