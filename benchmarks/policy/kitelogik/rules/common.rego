# Rules for every tool call (6 rules).
package kitelogik.bench.rules.common

import rego.v1

import data.kitelogik.bench.lib

deny contains lib.v("common.not_tool_call", "only tool_call events are governed by this bundle") if object.get(lib.inp, "event_type", null) != "tool_call"

deny contains lib.v("common.unknown_tool", sprintf("tool '%s' is not registered", [lib.action])) if not lib.registered

deny contains lib.v("common.role", sprintf("role '%s' may not use '%s'", [lib.role, lib.action])) if {
	lib.registered
	roles := object.get(lib.tool, "roles", [])
	not "*" in roles
	not lib.role in roles
}

deny contains lib.v("common.no_session", "a session id is required") if not lib.has_session

deny contains lib.v("common.delegation_depth", "delegated agents beyond depth 3 may not call tools") if {
	depth := object.get(lib.ctx, "delegation_depth", 0)
	is_number(depth)
	depth > 3
}

deny contains lib.v("common.args_object", "args must be an object") if {
	x := object.get(lib.inp, "args", {})
	not is_object(x)
}
