-- require finds modules in the directories of UOE_LUA_PATH.
name = "module_path"

function experiment(args)
    print(require("extra_module").greeting)
end
