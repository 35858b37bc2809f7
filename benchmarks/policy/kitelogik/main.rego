# Benchmark bundle entry point (a complete bundle: it defines kitelogik.main itself).
# Same decision shape as the shipped policies. Indexed on the action: data.kitelogik.bench.tools
# maps the action to a kind, and only that kind's rule package is consulted.
package kitelogik.main

import rego.v1

deny_set contains d if some d in data.kitelogik.bench.rules.common.deny

deny_set contains d if {
	data.kitelogik.bench.lib.kind == "fs"
	some d in data.kitelogik.bench.rules.fs.deny
}

deny_set contains d if {
	data.kitelogik.bench.lib.kind == "http"
	some d in data.kitelogik.bench.rules.http.deny
}

deny_set contains d if {
	data.kitelogik.bench.lib.kind == "email"
	some d in data.kitelogik.bench.rules.email.deny
}

deny_set contains d if {
	data.kitelogik.bench.lib.kind == "payment"
	some d in data.kitelogik.bench.rules.payment.deny
}

deny_set contains d if {
	data.kitelogik.bench.lib.kind == "sql"
	some d in data.kitelogik.bench.rules.sql.deny
}

deny_set contains d if {
	data.kitelogik.bench.lib.kind == "shell"
	some d in data.kitelogik.bench.rules.shell.deny
}

hitl_set contains h if {
	data.kitelogik.bench.lib.kind == "fs"
	some h in data.kitelogik.bench.rules.fs.requires_hitl
}

hitl_set contains h if {
	data.kitelogik.bench.lib.kind == "http"
	some h in data.kitelogik.bench.rules.http.requires_hitl
}

hitl_set contains h if {
	data.kitelogik.bench.lib.kind == "email"
	some h in data.kitelogik.bench.rules.email.requires_hitl
}

hitl_set contains h if {
	data.kitelogik.bench.lib.kind == "payment"
	some h in data.kitelogik.bench.rules.payment.requires_hitl
}

hitl_set contains h if {
	data.kitelogik.bench.lib.kind == "sql"
	some h in data.kitelogik.bench.rules.sql.requires_hitl
}

hitl_set contains h if {
	data.kitelogik.bench.lib.kind == "shell"
	some h in data.kitelogik.bench.rules.shell.requires_hitl
}

tier_outcome := {"informational": "allow", "operational": "allow", "transactional_high": "escalate", "destructive": "escalate"}

hitl_set contains {"rule": "tier.requires_approval", "reason": sprintf("tool '%s' is %s", [data.kitelogik.bench.lib.action, data.kitelogik.bench.lib.tool.tier])} if {
	object.get(tier_outcome, object.get(data.kitelogik.bench.lib.tool, "tier", ""), "") == "escalate"
}

allowed if object.get(data.kitelogik.bench.lib.tool, "tier", "") in {"informational", "operational", "transactional_high", "destructive"}

default final_deny := false

final_deny if count(deny_set) > 0

final_deny if not allowed

default final_hitl := false

final_hitl if {
	not final_deny
	count(hitl_set) > 0
}

default final_allow := false

final_allow if {
	not final_deny
	not final_hitl
}

reason_set contains d.reason if some d in deny_set

reason_set contains "no policy allows this action" if {
	count(deny_set) == 0
	not allowed
}

reason_set contains h.reason if {
	not final_deny
	some h in hitl_set
}

reason_set contains "allowed by the tool registry" if final_allow

rule_set contains e.rule if some e in deny_set

rule_set contains e.rule if some e in hitl_set

rule_set contains "tier.allows" if final_allow

rule_set contains "main.default_deny" if {
	count(deny_set) == 0
	not allowed
}

risk_tier := t if {
	t := object.get(data.kitelogik.bench.lib.tool, "tier", null)
	is_string(t)
} else := "security_critical"

default decision := {"allow": false, "deny": true, "requires_hitl": false, "reasons": ["policy evaluation failed"], "risk_tier": "security_critical", "rules": ["main.fallback"], "obligations": {}}

decision := {
	"allow": final_allow,
	"deny": final_deny,
	"requires_hitl": final_hitl,
	"reasons": sort([r | some r in reason_set]),
	"risk_tier": risk_tier,
	"rules": sort([r | some r in rule_set]),
	"obligations": {},
}
