-- A module that only UOE_LUA_PATH makes visible (tests/test_lua.sh).
return {greeting = "found through UOE_LUA_PATH"}
