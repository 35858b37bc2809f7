# Structural checks on the input document. Consulted for every event, whatever its type.
#
# Anything the other rules would have to guess about is a deny here, with a reason naming the
# field, so a malformed input can never be allowed by accident (fail closed). Optional fields may
# be missing or null; when present they must have the documented type.
package kitelogik.global.validate

import rego.v1

deny contains d if {
	not data.kitelogik.global.lib.input_is_object
	d := {"rule": "global.validate.input_not_object", "reason": "malformed input: the input document must be a JSON object"}
}

deny contains d if {
	is_object(input)
	not data.kitelogik.global.lib.event_type in data.kitelogik.global.lib.known_event_types
	d := {"rule": "global.validate.unknown_event_type", "reason": "malformed input: event_type is missing or not one of tool_call, agent.spawn, agent.delegate, plan, resource.use, data.access"}
}

deny contains d if {
	is_object(input)
	data.kitelogik.global.lib.action == ""
	d := {"rule": "global.validate.missing_action", "reason": "malformed input: action must be a non-empty string"}
}

deny contains d if {
	some f in ["args", "resource", "context", "spawn", "tool", "access"]
	present_not_object(f)
	d := {"rule": "global.validate.bad_field_type", "reason": sprintf("malformed input: %s must be an object or null", [f])}
}

deny contains d if {
	is_object(input)
	not is_object(object.get(input, "context", null))
	d := {"rule": "global.validate.missing_context", "reason": "malformed input: context (the session context) is missing"}
}

deny contains d if {
	some f in ["session_scopes"]
	bad_string_array(data.kitelogik.global.lib.ctx, f)
	d := {"rule": "global.validate.bad_field_type", "reason": sprintf("malformed input: context.%s must be an array of strings", [f])}
}

deny contains d if {
	some f in ["paths", "hosts"]
	bad_string_array(data.kitelogik.global.lib.resource, f)
	d := {"rule": "global.validate.bad_field_type", "reason": sprintf("malformed input: resource.%s must be an array of strings", [f])}
}

deny contains d if {
	bad_string_array(data.kitelogik.global.lib.inp, "data_labels")
	d := {"rule": "global.validate.bad_field_type", "reason": "malformed input: data_labels must be an array of strings"}
}

deny contains d if {
	some f in ["user_role", "session_id", "agent_id", "parent_agent_id", "framework"]
	v := object.get(data.kitelogik.global.lib.ctx, f, null)
	v != null
	not is_string(v)
	d := {"rule": "global.validate.bad_field_type", "reason": sprintf("malformed input: context.%s must be a string or null", [f])}
}

deny contains d if {
	v := object.get(data.kitelogik.global.lib.ctx, "delegation_depth", null)
	v != null
	data.kitelogik.global.lib.num(v) == null
	d := {"rule": "global.validate.bad_field_type", "reason": "malformed input: context.delegation_depth must be a non-negative number"}
}

deny contains d if {
	c := object.get(data.kitelogik.global.lib.inp, "classification", null)
	c != null
	not is_string(c)
	d := {"rule": "global.validate.bad_field_type", "reason": "malformed input: classification must be a string or null"}
}

deny contains d if {
	c := object.get(data.kitelogik.global.lib.resource, "classification", null)
	c != null
	not is_string(c)
	d := {"rule": "global.validate.bad_field_type", "reason": "malformed input: resource.classification must be a string or null"}
}

# credential: null (no broker) or an object whose scopes are an array of strings.
deny contains d if {
	c := object.get(data.kitelogik.global.lib.inp, "credential", null)
	c != null
	not is_object(c)
	d := {"rule": "global.validate.bad_credential", "reason": "malformed input: credential must be an object or null"}
}

deny contains d if {
	data.kitelogik.global.lib.has_credential
	not is_array(object.get(data.kitelogik.global.lib.credential, "scopes", null))
	d := {"rule": "global.validate.bad_credential", "reason": "malformed input: credential.scopes must be an array of strings"}
}

deny contains d if {
	data.kitelogik.global.lib.has_credential
	bad_string_array(data.kitelogik.global.lib.credential, "scopes")
	d := {"rule": "global.validate.bad_credential", "reason": "malformed input: credential.scopes must be an array of strings"}
}

# budget: null or an object; its remaining/requested maps hold non-negative numbers.
deny contains d if {
	b := object.get(data.kitelogik.global.lib.inp, "budget", null)
	b != null
	not is_object(b)
	d := {"rule": "global.validate.bad_budget", "reason": "malformed input: budget must be an object or null"}
}

deny contains d if {
	b := object.get(data.kitelogik.global.lib.inp, "budget", null)
	is_object(b)
	some part in ["remaining", "requested"]
	m := object.get(b, part, null)
	m != null
	not is_object(m)
	d := {"rule": "global.validate.bad_budget", "reason": sprintf("malformed input: budget.%s must be an object", [part])}
}

deny contains d if {
	b := object.get(data.kitelogik.global.lib.inp, "budget", null)
	is_object(b)
	some part in ["remaining", "requested"]
	m := object.get(b, part, null)
	is_object(m)
	some k, v in m
	v != null
	data.kitelogik.global.lib.num(v) == null
	d := {"rule": "global.validate.bad_budget", "reason": sprintf("malformed input: budget.%s.%s must be a non-negative number", [part, data.kitelogik.global.lib.text(k)])}
}

# tool: risk_tier, when given, must name a known tier; external, when given, must be a boolean.
deny contains d if {
	t := object.get(data.kitelogik.global.lib.tool_decl, "risk_tier", null)
	t != null
	not data.kitelogik.global.lib.valid_tier(t)
	d := {"rule": "global.validate.bad_tool", "reason": "malformed input: tool.risk_tier is not a known risk tier"}
}

deny contains d if {
	e := object.get(data.kitelogik.global.lib.tool_decl, "external", null)
	e != null
	not is_boolean(e)
	d := {"rule": "global.validate.bad_tool", "reason": "malformed input: tool.external must be a boolean"}
}

# plan: required for plan events, a non-empty array of step objects, each naming an action.
deny contains d if {
	data.kitelogik.global.lib.event_type == "plan"
	steps := object.get(data.kitelogik.global.lib.obj(object.get(data.kitelogik.global.lib.inp, "plan", {})), "steps", null)
	not is_array(steps)
	d := {"rule": "global.validate.bad_plan", "reason": "malformed input: a plan event needs plan.steps (an array of steps)"}
}

deny contains d if {
	data.kitelogik.global.lib.event_type == "plan"
	p := object.get(data.kitelogik.global.lib.inp, "plan", null)
	p != null
	not is_object(p)
	d := {"rule": "global.validate.bad_plan", "reason": "malformed input: plan must be an object"}
}

deny contains d if {
	data.kitelogik.global.lib.event_type == "plan"
	some i, step in data.kitelogik.global.lib.plan_steps
	not valid_step(step)
	d := {"rule": "global.validate.bad_plan", "reason": sprintf("malformed input: plan step %d must be an object with a non-empty string action, object args and event_type tool_call", [i])}
}

# spawn: required for agent.spawn and agent.delegate.
deny contains d if {
	data.kitelogik.global.lib.event_type in {"agent.spawn", "agent.delegate"}
	not is_object(object.get(data.kitelogik.global.lib.inp, "spawn", null))
	d := {"rule": "global.validate.missing_spawn", "reason": sprintf("malformed input: the spawn object is required for %s events", [data.kitelogik.global.lib.event_type])}
}

deny contains d if {
	data.kitelogik.global.lib.event_type in {"agent.spawn", "agent.delegate"}
	s := object.get(data.kitelogik.global.lib.inp, "spawn", null)
	is_object(s)
	some f in ["requested_capabilities", "parent_capabilities", "child_scopes"]
	bad_string_array(s, f)
	d := {"rule": "global.validate.bad_spawn", "reason": sprintf("malformed input: spawn.%s must be an array of strings", [f])}
}

deny contains d if {
	data.kitelogik.global.lib.event_type in {"agent.spawn", "agent.delegate"}
	s := object.get(data.kitelogik.global.lib.inp, "spawn", null)
	is_object(s)
	v := object.get(s, "depth", null)
	v != null
	data.kitelogik.global.lib.num(v) == null
	d := {"rule": "global.validate.bad_spawn", "reason": "malformed input: spawn.depth must be a non-negative number"}
}

# Helpers ----------------------------------------------------------------------------------------

present_not_object(f) if {
	v := object.get(data.kitelogik.global.lib.inp, f, null)
	v != null
	not is_object(v)
}

# bad_string_array(o, f): o[f] is present and non-null but not an array of strings.
bad_string_array(o, f) if {
	v := object.get(o, f, null)
	v != null
	not is_array(v)
}

bad_string_array(o, f) if {
	v := object.get(o, f, null)
	is_array(v)
	some x in v
	not is_string(x)
}

valid_step(step) if {
	is_object(step)
	a := object.get(step, "action", null)
	is_string(a)
	a != ""
	is_object(object.get(step, "args", {}))
	object.get(step, "event_type", "tool_call") == "tool_call"
}
