# Example project tier: explicitly allowing a security_critical tool.
#
# INERT (package kitelogik.examples.break_glass); copy it into your project directory as
# package kitelogik.project to use it. The global tier never allows a security_critical tool by
# itself; a project allow makes it possible, and the call is still escalated to a human.
package kitelogik.examples.break_glass

import rego.v1

allow contains {"rule": "project.break_glass.iam", "reason": "the IAM agent may rotate credentials with approval"} if {
	input.event_type == "tool_call"
	input.action == "rotate_credentials"
	ctx.agent_id == "iam-agent"
}

ctx := c if {
	c := input.context
	is_object(c)
} else := {}

# Raise the reported tier for every decision of this project.
risk_tier := "operational"

# Confine file access to the project's workspace.
workspace_roots := ["/srv/app"]
