# What the shell tests share, sourced once they have set $wb (the program) and $work (their
# scratch folder): running uoe-wb and printing TAP lines. Each test counts its checks in
# $count and ends with "1..$count".

# run ARGS...: runs uoe-wb, keeping its status, stdout and stderr
run() {
    "$wb" "$@" >"$work/stdout" 2>"$work/stderr"
    status=$?
}

# check DESCRIPTION CONDITION: one TAP line; the condition is a shell command
check() {
    count=$((count + 1))
    if eval "$2"; then
        echo "ok $count - $1"
    else
        echo "not ok $count - $1"
        echo "# status $status; stdout and stderr follow"
        sed 's/^/#   /' "$work/stdout" "$work/stderr"
    fi
}
