# Entry point: data.kitelogik.main.decision (DESIGN.md §4).
#
# Combines the global tier (kitelogik.global.*, shipped) with the optional project tier
# (package kitelogik.project, loaded on top from the user's policy directory):
#
#   deny          = the verdict is deny: some tier denied (a global deny is final, no project
#                   allow can undo it), or nothing allowed (deny by default).
#   requires_hitl = not denied, something allowed, and some tier asked for a human approval.
#   allow         = not denied and no approval needed.
#
# Exactly one of allow / deny / requires_hitl is true. `reasons` and `rules` are sorted arrays
# built from sets, so the decision is deterministic in every engine. Rules are only consulted for
# the event types they can apply to (dispatch below), which keeps a decision cheap.
#
# Project-tier contract (all optional; see policies/README.md and policies/examples/):
#   deny, allow, requires_hitl: sets of {"rule": str, "reason": str} (a plain string is accepted and
#                               named "project.<kind>"; `deny := true` also denies),
#   risk_tier: a tier name (can raise the decision's tier, never lower it),
#   tools: extra registry entries, workspace_roots: path confinement,
#   obligations: an object copied into the decision.
package kitelogik.main

import rego.v1

et := data.kitelogik.global.lib.event_type

# Global tier, dispatched by event type ----------------------------------------------------------

global_deny contains d if some d in data.kitelogik.global.validate.deny

global_deny contains d if {
	data.kitelogik.global.lib.tool_like
	some d in data.kitelogik.global.tools.deny
}

global_deny contains d if {
	data.kitelogik.global.lib.tool_like
	some d in data.kitelogik.global.classification.deny
}

global_deny contains d if {
	et == "plan"
	some d in data.kitelogik.global.plan.deny
}

global_deny contains d if {
	count(data.kitelogik.global.lib.resource_subjects) > 0
	some d in data.kitelogik.global.resources.deny
}

global_deny contains d if {
	et in {"agent.spawn", "agent.delegate"}
	some d in data.kitelogik.global.agents.deny
}

global_deny contains d if {
	et == "data.access"
	some d in data.kitelogik.global.classification.deny
}

global_deny contains d if {
	has_budget
	some d in data.kitelogik.global.budget.deny
}

global_deny contains d if {
	et == "resource.use"
	some d in data.kitelogik.global.budget.deny
}

has_budget if object.get(data.kitelogik.global.lib.inp, "budget", null) != null

# Control plane (budget holds, label flow into agents, agent liveness, trusted memory): each rule
# names the event types it applies to.
global_deny contains d if some d in data.kitelogik.global.control.deny

global_allow contains a if {
	data.kitelogik.global.lib.tool_like
	some a in data.kitelogik.global.tools.allow
}

global_allow contains a if {
	et in {"agent.spawn", "agent.delegate"}
	some a in data.kitelogik.global.agents.allow
}

global_allow contains a if {
	et == "resource.use"
	some a in data.kitelogik.global.budget.allow
}

global_allow contains a if {
	et == "data.access"
	some a in data.kitelogik.global.classification.allow
}

global_hitl contains h if {
	data.kitelogik.global.lib.tool_like
	some h in data.kitelogik.global.tools.requires_hitl
}

global_hitl contains h if {
	et == "data.access"
	some h in data.kitelogik.global.classification.requires_hitl
}

global_hitl contains h if some h in data.kitelogik.global.control.requires_hitl

# Explanations used only when nothing allowed (e.g. a security_critical tool without a project
# allow).
global_not_allowed contains n if {
	data.kitelogik.global.lib.tool_like
	some n in data.kitelogik.global.tools.not_allowed
}

# Project tier (optional: every reference below is safe when no project package is loaded) -------

# Each kind is read through its full path (never the whole data.kitelogik.project document), so
# only the rules a decision needs are evaluated.
# Comprehensions are always defined, so these are empty sets when no project tier is loaded.
project_deny := {e | x := data.kitelogik.project.deny; some e in kind_entries("deny", x)}

project_allow := {e |
	x := data.kitelogik.project.allow
	some e in kind_entries("allow", x)
	e.rule != malformed_rule("allow")
}

project_hitl := {e | x := data.kitelogik.project.requires_hitl; some e in kind_entries("requires_hitl", x)}

# kind_entries(kind, x): x is the project's rule value: a set/array of entries, or `true`.
kind_entries(kind, x) := entries(kind, x) if is_collection(x)

kind_entries(kind, x) := {{"rule": concat("", ["project.", kind]), "reason": bool_reason[kind]}} if is_true(x)

kind_entries(kind, x) := set() if {
	not is_collection(x)
	not is_true(x)
}

bool_reason := {
	"deny": "denied by the project policy",
	"allow": "allowed by the project policy",
	"requires_hitl": "the project policy requires a human approval",
}

# entries(kind, xs): normalized {"rule", "reason"} objects. A plain string becomes the reason of a
# rule named project.<kind>; any other malformed entry still denies / escalates (as
# project.<kind>.malformed_entry) but never allows.
entries(kind, xs) := {entry(kind, x) | some x in xs}

entry(kind, x) := {"rule": x.rule, "reason": x.reason} if well_formed(x)

entry(kind, x) := {"rule": concat("", ["project.", kind]), "reason": x} if is_string(x)

entry(kind, x) := {"rule": malformed_rule(kind), "reason": concat("", ["a project-tier ", kind, " entry is malformed (expected {\"rule\": str, \"reason\": str})"])} if {
	not well_formed(x)
	not is_string(x)
}

well_formed(x) if {
	is_object(x)
	is_string(object.get(x, "rule", null))
	is_string(object.get(x, "reason", null))
}

malformed_rule(kind) := concat("", ["project.", kind, ".malformed_entry"])

# A function (its argument is typed `any`), so OPA's type checker accepts a project `deny` of any
# type here; comparing the data reference with `true` directly is a type error when it is a set.
is_true(x) if {
	is_boolean(x)
	x == true
}

is_collection(x) if is_set(x)

is_collection(x) if is_array(x)

project_risk_tier := t if {
	t := data.kitelogik.project.risk_tier
	data.kitelogik.global.lib.valid_tier(t)
}

# Combination ----------------------------------------------------------------------------------

all_deny := global_deny | project_deny

all_allow := global_allow | project_allow

all_hitl := global_hitl | project_hitl

deny_any if count(all_deny) > 0

allow_any if count(all_allow) > 0

default final_deny := false

final_deny if deny_any

final_deny if not allow_any

default final_hitl := false

final_hitl if {
	not final_deny
	count(all_hitl) > 0
}

default final_allow := false

final_allow if {
	not final_deny
	not final_hitl
}

default_deny_reason := "no policy allows this action"

reason_set contains d.reason if {
	deny_any
	some d in all_deny
}

reason_set contains default_deny_reason if {
	not deny_any
	not allow_any
}

reason_set contains n.reason if {
	not deny_any
	not allow_any
	some n in global_not_allowed
}

reason_set contains h.reason if {
	not final_deny
	some h in all_hitl
}

reason_set contains a.reason if {
	not final_deny
	not final_hitl
	some a in all_allow
}

rule_set contains e.rule if some e in all_deny

rule_set contains e.rule if some e in all_allow

rule_set contains e.rule if some e in all_hitl

rule_set contains e.rule if {
	not deny_any
	not allow_any
	some e in global_not_allowed
}

rule_set contains "main.default_deny" if {
	not deny_any
	not allow_any
}

# Risk tier: the highest of the global tier's view and a valid project risk_tier.
global_tier := data.kitelogik.global.lib.cfg.malformed_tier if count(data.kitelogik.global.validate.deny) > 0

else := data.kitelogik.global.tools.risk_tier if data.kitelogik.global.lib.tool_like

else := data.kitelogik.global.classification.risk_tier if et == "data.access"

else := object.get(data.kitelogik.global.lib.cfg.event_tiers, et, data.kitelogik.global.lib.cfg.malformed_tier)

risk_tier := data.kitelogik.global.lib.max_tier({global_tier, project_risk_tier}) if project_risk_tier

else := global_tier

obligations := object.union_n([o | o := data.kitelogik.project.obligations; is_object(o)])

default decision := {
	"allow": false,
	"deny": true,
	"requires_hitl": false,
	"reasons": ["policy evaluation failed: no decision could be made"],
	"risk_tier": "security_critical",
	"rules": ["main.fallback"],
	"obligations": {},
}

decision := {
	"allow": final_allow,
	"deny": final_deny,
	"requires_hitl": final_hitl,
	"reasons": sort([r | some r in reason_set]),
	"risk_tier": risk_tier,
	"rules": sort([r | some r in rule_set]),
	"obligations": obligations,
}
