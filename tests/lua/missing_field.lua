-- A script that defines no experiment function, and a name of the wrong
-- type: both are reported, each by field and expected type.
name = 42
