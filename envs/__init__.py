"""Every environment behind one functional (gymnax) interface: `env, params = envs.make(name)`."""

from envs.params import Box, Choice, Level, ParamSpace
from envs.registry import default_param_space, family, make, registered_names, short_name

__all__ = ["Box", "Choice", "Level", "ParamSpace", "default_param_space", "family", "make",
           "registered_names", "short_name"]
