# Shell rules (8 rules). Consulted only for tools of kind "shell".
package kitelogik.bench.rules.shell

import rego.v1

c := data.kitelogik.bench.lib.cfg.shell

cmd := data.kitelogik.bench.lib.str_arg("command")

lcmd := lower(cmd)

binary := split(trim_space(cmd), " ")[0]

deny contains data.kitelogik.bench.lib.v("shell.no_command", "a shell tool needs a command string") if not data.kitelogik.bench.lib.has_str_arg("command")

deny contains data.kitelogik.bench.lib.v("shell.dangerous", sprintf("the command matches a dangerous pattern (%s)", [p])) if {
	some p in c.dangerous_patterns
	regex.match(p, lcmd)
}

deny contains data.kitelogik.bench.lib.v("shell.binary_not_allowed", sprintf("binary '%s' is not on the allow list", [binary])) if not binary in c.allowed_binaries

deny contains data.kitelogik.bench.lib.v("shell.too_long", "the command is too long") if count(cmd) > c.max_command_length

deny contains data.kitelogik.bench.lib.v("shell.sudo", "sudo is not allowed") if regex.match(`(^|[;&|]\s*)sudo\b`, lcmd)

deny contains data.kitelogik.bench.lib.v("shell.chaining", "command chaining and substitution are not allowed") if {
	some m in [";", "&&", "||", "`", "$("]
	contains(cmd, m)
}

deny contains data.kitelogik.bench.lib.v("shell.redirect_system", "redirecting output into system paths is not allowed") if regex.match(`>\s*/(etc|usr|bin|boot)/`, lcmd)

requires_hitl contains data.kitelogik.bench.lib.v("shell.needs_approval", "shell commands need a human") if cmd
