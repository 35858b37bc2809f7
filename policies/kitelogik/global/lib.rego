# Shared, defensive accessors over the policy input document (DESIGN.md §3).
#
# Every accessor tolerates a missing, null or wrongly typed field and falls back to the most
# conservative value: no scopes, no capabilities, no credential scopes. Wrong types are *also*
# reported as denies by kitelogik.global.validate, so a malformed input never ends in allow.
#
# "Subjects" are the tool invocations an event asks for: the call itself for a tool_call, one per
# step for a plan. The tool, path, host and classification rules iterate over subjects, which is how
# a plan step is judged by exactly the same rules as the equivalent tool_call (no `with` needed,
# so the fast RVM path can compile it).
package kitelogik.global.lib

import rego.v1

cfg := data.kitelogik.config

input_is_object if is_object(input)

inp := input if is_object(input)

else := {}

# Rule-level `else` is only used where the first body fails on an explicit condition, never on an
# undefined lookup: the regorus RVM returns undefined for the whole rule when the first body fails
# on an undefined reference such as obj[key] (OPA and the interpreter take the else). object.get
# with a default sidesteps it.
event_type := t if {
	t := object.get(inp, "event_type", null)
	is_string(t)
} else := ""

action := a if {
	a := object.get(inp, "action", null)
	is_string(a)
} else := ""

known_event_types := {"tool_call", "agent.spawn", "agent.delegate", "plan", "resource.use", "data.access"}

tool_like if event_type in {"tool_call", "plan"}

# Functions below never use `else`: each has bodies with mutually exclusive conditions. (The
# regorus RVM mis-evaluates a function `else` whose first body fails on an undefined reference;
# complementary bodies decide identically in every engine.)

# obj(x): x when it is an object, {} otherwise.
obj(x) := x if is_object(x)

obj(x) := {} if not is_object(x)

# strings(x): the set of strings in x when x is an array, {} otherwise.
strings(x) := {s | some s in x; is_string(s)} if is_array(x)

strings(x) := set() if not is_array(x)

ctx := obj(object.get(inp, "context", {}))

session_scopes := strings(object.get(ctx, "session_scopes", []))

has_credential if is_object(object.get(inp, "credential", null))

credential := obj(object.get(inp, "credential", {}))

# Scopes the action may use: the session's claims, narrowed to the verified credential's scopes
# when a credential is present (the gate already intersects them; this is defence in depth).
effective_scopes := session_scopes & strings(object.get(credential, "scopes", [])) if has_credential

else := session_scopes

user_role := r if {
	r := object.get(ctx, "user_role", null)
	is_string(r)
} else := ""

# A non-negative number, else null (callers treat null as "unknown").
num(x) := x if nonneg(x)

num(x) := null if not nonneg(x)

nonneg(x) if {
	is_number(x)
	x >= 0
}

# Tier helpers ---------------------------------------------------------------------------------

valid_tier(t) if {
	is_string(t)
	object.get(cfg.tiers, t, null) != null
}

tier_rank(t) := object.get(cfg.tiers, [t, "rank"], 4)

tier_name(r) := cfg.tier_order[r]

# Highest tier among a collection of tier names (all assumed valid); null for none.
max_tier(ts) := tier_name(max({tier_rank(t) | some t in ts})) if count(ts) > 0

max_tier(ts) := null if count(ts) == 0

# Subjects -------------------------------------------------------------------------------------

resource := obj(object.get(inp, "resource", {}))

tool_decl := obj(object.get(inp, "tool", {}))

labels_of(x) := strings(object.get(x, "data_labels", [])) | {c | c := object.get(obj(object.get(x, "resource", {})), "classification", null); is_string(c)}

input_labels := strings(object.get(inp, "data_labels", [])) | {c | c := object.get(resource, "classification", null); is_string(c)}

base_subject := {
	"index": -1,
	"action": action,
	"args": obj(object.get(inp, "args", {})),
	"paths": strings(object.get(resource, "paths", [])),
	"hosts": strings(object.get(resource, "hosts", [])),
	"tool": tool_decl,
	"labels": input_labels,
}

plan_steps := s if {
	s := object.get(obj(object.get(inp, "plan", {})), "steps", null)
	is_array(s)
} else := []

step_subject(i, step) := {
	"index": i,
	"action": a,
	"args": obj(object.get(st, "args", {})),
	"paths": strings(object.get(res, "paths", [])),
	"hosts": strings(object.get(res, "hosts", [])),
	"tool": obj(object.get(st, "tool", {})),
	"labels": input_labels | labels_of(st),
} if {
	st := obj(step)
	a := object.get(st, "action", "")
	res := obj(object.get(st, "resource", {}))
}

# Tool invocations requested by this event.
subjects := [base_subject] if event_type == "tool_call"

else := [step_subject(i, step) | some i, step in plan_steps] if event_type == "plan"

else := []

# Things that touch resources (paths, hosts): the invocations, plus the event's own resource for
# plans, resource.use and data.access.
resource_subjects := subjects if event_type == "tool_call"

else := array.concat([base_subject], subjects) if event_type == "plan"

else := [base_subject] if event_type in {"resource.use", "data.access"}

else := []

# violation(subject, rule, reason): a {"rule", "reason"} entry; reasons about a plan step name the
# step index and its action.
violation(s, rule, reason) := {"rule": rule, "reason": reason} if s.index < 0

violation(s, rule, reason) := {"rule": rule, "reason": sprintf("plan step %d (%s): %s", [s.index, text(s.action), reason])} if s.index >= 0

# Text for a value coming from the input, safe for sprintf %s in every engine.
text(x) := x if {
	is_string(x)
	x != ""
}

text(x) := "<empty>" if x == ""

text(x) := "<not a string>" if not is_string(x)
