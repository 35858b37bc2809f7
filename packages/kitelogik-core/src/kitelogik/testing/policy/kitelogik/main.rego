# The adapter conformance kit's own policy: a complete bundle (entry point
# data.kitelogik.main.decision) that is small, fixed and independent of the shipped policies,
# so plugin conformance results never change because a shipped rule changed.
#
#   tool lookup(key)            allow; key "secret" is denied
#   tool write_note(path, ...)  allow
#   tool transfer(amount, to)   escalate (needs a human approval)
#   tool delete_record(...)     deny
#   agent.spawn / agent.delegate: "researcher" and "helper" allowed, anything else denied
#   everything else             deny by default
package kitelogik.main

import rego.v1

allowed_tools := {"lookup", "write_note", "transfer"}

escalated_tools := {"transfer"}

allowed_agents := {"researcher", "helper"}

deny_reasons contains "kit: deleting records is forbidden" if {
	input.event_type == "tool_call"
	input.action == "delete_record"
}

deny_reasons contains "kit: the key 'secret' may not be looked up" if {
	input.event_type == "tool_call"
	input.action == "lookup"
	input.args.key == "secret"
}

deny_reasons contains sprintf("kit: agent %q is not allowed", [input.action]) if {
	input.event_type in {"agent.spawn", "agent.delegate"}
	not input.action in allowed_agents
}

permitted if {
	input.event_type == "tool_call"
	input.action in allowed_tools
}

permitted if {
	input.event_type in {"agent.spawn", "agent.delegate"}
	input.action in allowed_agents
}

default denied := false

denied if count(deny_reasons) > 0

denied if not permitted

default hitl := false

hitl if {
	not denied
	input.event_type == "tool_call"
	input.action in escalated_tools
}

default allowed := false

allowed if {
	not denied
	not hitl
}

default_reasons contains "kit: no rule allows this action" if {
	count(deny_reasons) == 0
	not permitted
}

hitl_reasons contains "kit: transfers need a human approval" if hitl

all_reasons := (deny_reasons | default_reasons) | hitl_reasons

rule_names contains "kit.deny" if count(deny_reasons) > 0

rule_names contains "kit.default_deny" if count(default_reasons) > 0

rule_names contains "kit.hitl" if hitl

rule_names contains "kit.allow" if allowed

decision := {
	"allow": allowed,
	"deny": denied,
	"requires_hitl": hitl,
	"reasons": sort([r | some r in all_reasons]),
	"rules": sort([r | some r in rule_names]),
	"risk_tier": "low",
	"obligations": {},
}
