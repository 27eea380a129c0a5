-- uoe.plot: the plots of run directories, as `uoe-wb plot` renders them, in use and misuse.
local check = require("check")

name = "api_plot"

local function exists(path)
    local file = io.open(path, "rb")
    if file then
        file:close()
    end
    return file ~= nil
end

function experiment(args)
    local uoe = require("uoe")
    local run = args.fixtures .. "/run"
    local files = uoe.plot(run, {format = "svg,png", out = args.work .. "/one"})
    local all_there = #files > 0
    for _, path in ipairs(files) do
        all_there = all_there and exists(path)
    end
    check.ok(#files == 12 and all_there, "one run: six figures in two formats, every file written",
             #files .. " files")
    local kept = uoe.plot(run, {out = args.work .. "/kept", keep_script = true, layer = 1})
    check.ok(exists(kept[1] .. ".gp") and kept[#kept]:find("expert%-share%-layer1%.png$"),
             "keep_script writes the gnuplot script beside each plot; layer picks the share bars",
             kept[#kept])
    local compared = uoe.plot({run, args.fixtures .. "/run-compare"}, {out = args.work .. "/cmp"})
    check.ok(#compared == 2 and compared[1]:find("compare%-scatter%.png$"),
             "a list of runs renders their comparison", compared[1])

    check.fails("an unknown format", "key 'format': unknown plot format 'gif'",
                function() return uoe.plot(run, {format = "gif"}) end)
    check.fails("an unknown key", "unknown key 'colour'",
                function() return uoe.plot(run, {colour = "red"}) end)
    check.fails("a run list with a number", "entry 2: a run directory (string) expected",
                function() return uoe.plot({run, 3}) end)
    check.fails("layer with a comparison", "key 'layer' applies to the plots of one run",
                function() return uoe.plot({run, run}, {layer = 1}) end)
    check.fails("a missing run directory names its file", "no-such-run",
                function() return uoe.plot(args.work .. "/no-such-run", {out = args.work .. "/none"}) end)
    check.ok(not exists(args.work .. "/none"), "a failed export leaves no output folder behind")
    check.fails("no arguments", "bad argument #1 to 'plot' (string expected, got no value)",
                function() return uoe.plot() end)
end
