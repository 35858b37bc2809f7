# The governed strategy lives in the kitelogik-dify package (requirements.txt); Dify loads the
# one AgentStrategy subclass found in this module.
from kitelogik_dify.strategy import GovernedFunctionCalling

__all__ = ["GovernedFunctionCalling"]
