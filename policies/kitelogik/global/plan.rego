# Plans: a plan is allowed only if every step would be allowed as a tool_call.
#
# The step-level judgement is done by the tool, path, host and classification packages, which
# iterate over data.kitelogik.global.lib.subjects (one subject per step); their reasons already name the step index and
# action ("plan step 2 (delete_file): ..."). This package adds the plan-level limits.
package kitelogik.global.plan

import rego.v1

deny contains d if {
	data.kitelogik.global.lib.event_type == "plan"
	count(data.kitelogik.global.lib.plan_steps) == 0
	d := {"rule": "global.plan.empty", "reason": "plan: a plan with no steps is not allowed"}
}

deny contains d if {
	data.kitelogik.global.lib.event_type == "plan"
	count(data.kitelogik.global.lib.plan_steps) > data.kitelogik.global.lib.cfg.plan.max_steps
	d := {"rule": "global.plan.too_many_steps", "reason": sprintf("plan: more than %d steps", [data.kitelogik.global.lib.cfg.plan.max_steps])}
}
