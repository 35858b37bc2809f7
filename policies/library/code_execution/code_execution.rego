# Starter library: code execution. Shell and interpreter tools: known-dangerous commands are
# denied outright, every other execution waits for a human.
#
# INERT until a project uses it (see policies/library/README.md):
#     deny contains d if some d in data.kitelogik.library.code_execution.deny
#     requires_hitl contains d if some d in data.kitelogik.library.code_execution.requires_hitl
package kitelogik.library.code_execution

import rego.v1

defaults := {
	"exec_tools": ["run_shell", "python_exec", "exec_code", "run_command"],
	"code_args": ["command", "cmd", "code", "script"],
	# RE2 patterns, matched case-insensitively against every code argument.
	"dangerous": [
		`rm\s+-[a-z]*r[a-z]*f?\s+/(\s|$)`,
		`(curl|wget)[^|]*\|\s*(ba|z)?sh`,
		`mkfs|dd\s+if=|:\(\)\s*\{`,
		`chmod\s+(-R\s+)?777`,
		`/dev/tcp/|nc\s+-e|ncat\s+-e`,
		`base64\s+(-d|--decode)[^|]*\|\s*(ba)?sh`,
		`os\.system|subprocess|__import__\(|eval\(|exec\(`,
	],
}

settings := object.union(defaults, s) if {
	s := object.get(data.kitelogik.project.library_settings, "code_execution", null)
	is_object(s)
} else := defaults

execution if {
	input.event_type == "tool_call"
	input.action in settings.exec_tools
}

code contains c if {
	execution
	some k in settings.code_args
	c := object.get(data.kitelogik.global.lib.inp, ["args", k], null)
	is_string(c)
}

deny contains {"rule": "library.code_execution.dangerous", "reason": "the command matches a known-dangerous pattern"} if {
	some c in code
	some p in settings.dangerous
	regex.match(concat("", ["(?i)", p]), c)
}

# Code that is not a string (a list, an object) cannot be checked: deny.
deny contains {"rule": "library.code_execution.uncheckable", "reason": "code arguments must be strings"} if {
	execution
	some k in settings.code_args
	v := object.get(data.kitelogik.global.lib.inp, ["args", k], null)
	v != null
	not is_string(v)
}

requires_hitl contains {"rule": "library.code_execution.review", "reason": "code execution needs a human approval"} if execution
