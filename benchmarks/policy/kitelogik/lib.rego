# Benchmark bundle: shared accessors. Everything is indexed on the action: main looks the action up
# once in data.kitelogik.config.tools and consults only the rule package of that tool's kind.
#
# Engine-parity rules followed here (see policies/README.md): lookups use object.get with a
# default (no `else` after a body that can fail on an undefined lookup: the regorus RVM returns
# undefined for the whole rule there), and no `not` is applied to a builtin call whose argument
# may be undefined (OPA and regorus disagree on that).
package kitelogik.bench.lib

import rego.v1

cfg := data.kitelogik.config

obj(x) := x if is_object(x)

obj(x) := {} if not is_object(x)

inp := input if is_object(input)

else := {}

action := a if {
	a := object.get(inp, "action", null)
	is_string(a)
} else := ""

registered if object.get(cfg.tools, action, null) != null

tool := obj(object.get(cfg.tools, action, {}))

kind := object.get(tool, "kind", "")

args := obj(object.get(inp, "args", {}))

ctx := obj(object.get(inp, "context", {}))

role := r if {
	r := object.get(ctx, "user_role", null)
	is_string(r)
} else := ""

has_session if is_string(object.get(ctx, "session_id", null))

strings(x) := [s | some s in x; is_string(s)] if is_array(x)

strings(x) := [] if not is_array(x)

scopes := {s | some s in strings(object.get(ctx, "session_scopes", []))}

resource := obj(object.get(inp, "resource", {}))

paths := strings(object.get(resource, "paths", []))

hosts := strings(object.get(resource, "hosts", []))

labels := strings(object.get(inp, "data_labels", []))

str_arg(name) := v if {
	v := object.get(args, name, null)
	is_string(v)
}

has_str_arg(name) if str_arg(name)

num_arg(name) := v if {
	v := object.get(args, name, null)
	is_number(v)
}

has_num_arg(name) if num_arg(name)

v(rule, reason) := {"rule": rule, "reason": reason}
