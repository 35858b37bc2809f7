# Benchmark bundle entry point (a complete bundle: it defines kitelogik.main itself).
# Same decision shape as the shipped policies. Indexed on the action: data.kitelogik.bench.tools
# maps the action to a kind, and only that kind's rule package is consulted.
package kitelogik.main

import rego.v1

import data.kitelogik.bench.lib
import data.kitelogik.bench.rules.common
import data.kitelogik.bench.rules.email
import data.kitelogik.bench.rules.fs
import data.kitelogik.bench.rules.http
import data.kitelogik.bench.rules.payment
import data.kitelogik.bench.rules.shell
import data.kitelogik.bench.rules.sql

deny_set contains d if some d in common.deny

deny_set contains d if {
	lib.kind == "fs"
	some d in fs.deny
}

deny_set contains d if {
	lib.kind == "http"
	some d in http.deny
}

deny_set contains d if {
	lib.kind == "email"
	some d in email.deny
}

deny_set contains d if {
	lib.kind == "payment"
	some d in payment.deny
}

deny_set contains d if {
	lib.kind == "sql"
	some d in sql.deny
}

deny_set contains d if {
	lib.kind == "shell"
	some d in shell.deny
}

hitl_set contains h if {
	lib.kind == "fs"
	some h in fs.requires_hitl
}

hitl_set contains h if {
	lib.kind == "http"
	some h in http.requires_hitl
}

hitl_set contains h if {
	lib.kind == "email"
	some h in email.requires_hitl
}

hitl_set contains h if {
	lib.kind == "payment"
	some h in payment.requires_hitl
}

hitl_set contains h if {
	lib.kind == "sql"
	some h in sql.requires_hitl
}

hitl_set contains h if {
	lib.kind == "shell"
	some h in shell.requires_hitl
}

tier_outcome := {"informational": "allow", "operational": "allow", "transactional_high": "escalate", "destructive": "escalate"}

hitl_set contains {"rule": "tier.requires_approval", "reason": sprintf("tool '%s' is %s", [lib.action, lib.tool.tier])} if {
	object.get(tier_outcome, object.get(lib.tool, "tier", ""), "") == "escalate"
}

allowed if object.get(lib.tool, "tier", "") in {"informational", "operational", "transactional_high", "destructive"}

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

rule_set contains "main.default_deny" if {
	count(deny_set) == 0
	not allowed
}

risk_tier := t if {
	t := object.get(lib.tool, "tier", null)
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
