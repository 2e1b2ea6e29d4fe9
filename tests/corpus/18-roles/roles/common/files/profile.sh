# shell profile shipped by the common role
export EDITOR=vi
