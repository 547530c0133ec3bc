# gen-schema.awk - turns xenstore-schema/xenshape.schema into what the build
# and the docs need, so that the key table, the documentation and the tests
# come from one declaration:
#
#   awk -v mode=keys  -f gen-schema.awk xenshape.schema > schema_keys.h
#       X-macros of scopes and keys: enum ids, per-scope counts
#   awk -v mode=table -f gen-schema.awk xenshape.schema > schema_table.c
#       the key table compiled into libxenshape (types, ranges, defaults)
#   awk -v mode=cases -f gen-schema.awk xenshape.schema > schema_cases.h
#       per settable key: valid values, and invalid ones with the words the
#       rejection must contain, derived from the ranges (tests/check_schema.c)
#   awk -v mode=doc   -f gen-schema.awk xenshape.schema > xenstore-paths.md
#   awk -v mode=man   -f gen-schema.awk xenshape.schema > xenshape-xenstore.7
#       the same as a man page (`make man`)
#
# Plain POSIX awk: Debian's base system has only mawk.  The schema's format
# is described at the top of the schema itself.  A malformed schema stops
# the build with a message naming the line.  Numbers (sizes in KiB) stay
# below 2^53, where awk's doubles are exact, and are printed with %.0f,
# which mawk handles at any magnitude (its %d does not).

function die(msg) {
    printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"
    failed = 1
    exit 1
}

# The text of the current line after its first n fields.
function rest(n,    s, i) {
    s = $0
    for (i = 0; i < n; i++)
        sub(/^[ \t]*[^ \t]+/, "", s)
    sub(/^[ \t]+/, "", s)
    sub(/[ \t]+$/, "", s)
    return s
}

function ident(s) {
    s = toupper(s)
    gsub(/[^A-Z0-9]/, "_", s)
    return s
}

function cstr(s) {
    gsub(/\\/, "\\\\", s)
    gsub(/"/, "\\\"", s)
    gsub(/\t/, "\\t", s)
    return "\"" s "\""
}

function u64(x) {
    return sprintf("UINT64_C(%.0f)", x)
}

# A size as the schema writes it ("512M", "16T", "0") in KiB; -1 if it is
# not one.
function sizekib(s,    n, suf, m) {
    if (s !~ /^[0-9]+[KMGTkmgt]?$/)
        return -1
    suf = toupper(substr(s, length(s), 1))
    m = 1
    if (suf == "K") m = 1
    else if (suf == "M") m = 1024
    else if (suf == "G") m = 1024 * 1024
    else if (suf == "T") m = 1024 * 1024 * 1024
    else suf = ""
    n = suf == "" ? s : substr(s, 1, length(s) - 1)
    return (n + 0) * m
}

# Split "lo..hi" (hi may be empty: unbounded) into RLO, RHI, RUNB, using
# conv: "int" for plain numbers, "size" for sizes.
function range2(s, conv,    p, lo, hi) {
    p = index(s, "..")
    if (p == 0)
        die("range '" s "' is not lo..hi")
    lo = substr(s, 1, p - 1)
    hi = substr(s, p + 2)
    RUNB = hi == ""
    if (conv == "size") {
        RLO = sizekib(lo)
        RHI = RUNB ? 0 : sizekib(hi)
        if (RLO < 0 || RHI < 0)
            die("bad size in range '" s "'")
    } else {
        if (lo !~ /^[0-9]+$/ || (!RUNB && hi !~ /^[0-9]+$/))
            die("bad number in range '" s "'")
        RLO = lo + 0
        RHI = RUNB ? 0 : hi + 0
    }
    if (!RUNB && RHI < RLO)
        die("empty range '" s "'")
}

BEGIN {
    nroots = 0
    nkeys = 0
    ndoc = 0
    failed = 0
    types["int"] = 1; types["bool"] = 1; types["size"] = 1
    types["percent"] = 1; types["sizepct"] = 1; types["enum"] = 1
    types["string"] = 1; types["path"] = 1
    if (mode != "keys" && mode != "table" && mode != "cases" &&
        mode != "doc" && mode != "man") {
        printf "gen-schema.awk: -v mode=keys|table|cases|doc|man\n" \
            > "/dev/stderr"
        failed = 1
        exit 1
    }
}

/^[ \t]*#/ || /^[ \t]*$/ { next }

$1 == "doc" {
    doc[++ndoc] = rest(1)
    next
}

$1 == "root" {
    if (NF < 6)
        die("root needs: scope path perms mirror-of description")
    if ($2 in rootidx)
        die("scope " $2 " declared twice")
    nroots++
    rootidx[$2] = nroots
    rscope[nroots] = $2
    rpath[nroots] = $3
    rperms[nroots] = $4
    rmirror[nroots] = $5
    rdesc[nroots] = rest(5)
    rcount[nroots] = 0
    next
}

$1 == "key" {
    if (NF < 8)
        die("key needs: scope name type range default writer description")
    if (!($2 in rootidx))
        die("key " $3 " in undeclared scope " $2)
    if (!($4 in types))
        die("key " $3 ": unknown type " $4)
    if ($7 != "dom0" && $7 != "daemon")
        die("key " $3 ": writer must be dom0 or daemon")
    if (($2 SUBSEP $3) in keyidx)
        die("key " $3 " declared twice in scope " $2)
    nkeys++
    keyidx[$2, $3] = nkeys
    kscope[nkeys] = $2
    kname[nkeys] = $3
    ktype[nkeys] = $4
    krange[nkeys] = $5
    kdef[nkeys] = $6
    kwriter[nkeys] = $7
    kdesc[nkeys] = rest(7)
    r = rootidx[$2]
    kindex[nkeys] = rcount[r]++
    parse_range(nkeys)
    next
}

{ die("unknown record '" $1 "'") }

# Ranges into klo/khi/kunb (value or length), kplo/kphi (sizepct
# percents), kenum (the words, comma separated); checks the default.
function parse_range(i,    t, r, p, n, w, j, ok) {
    t = ktype[i]
    r = krange[i]
    klo[i] = 0; khi[i] = 0; kunb[i] = 0; kplo[i] = 0; kphi[i] = 0
    if (t == "bool") {
        if (r != "-")
            die("bool " kname[i] " takes no range")
        klo[i] = 0; khi[i] = 1
    } else if (t == "enum") {
        n = split(r, w, ",")
        if (n < 1 || r == "-")
            die("enum " kname[i] " needs a word list")
        for (j = 1; j <= n; j++)
            if (w[j] !~ /^[a-z][a-z0-9-]*$/)
                die("enum word '" w[j] "' of " kname[i])
        kenum[i] = r
        klo[i] = 0; khi[i] = n - 1
    } else if (t == "sizepct") {
        p = index(r, ",")
        if (p == 0)
            die("sizepct " kname[i] " needs 'p%..q%,size..size'")
        w[1] = substr(r, 1, p - 1)
        w[2] = substr(r, p + 1)
        gsub(/%/, "", w[1])
        range2(w[1], "int")
        if (RUNB || RHI > 100)
            die("percent range of " kname[i] " must lie in 0..100")
        kplo[i] = RLO; kphi[i] = RHI
        range2(w[2], "size")
        klo[i] = RLO; khi[i] = RHI; kunb[i] = RUNB
    } else if (t == "percent") {
        range2(r, "int")
        if (RUNB || RHI > 100)
            die("percent range of " kname[i] " must lie in 0..100")
        klo[i] = RLO; khi[i] = RHI
    } else {
        range2(r, t == "size" ? "size" : "int")
        klo[i] = RLO; khi[i] = RHI; kunb[i] = RUNB
    }
    if (kwriter[i] == "dom0" && kdef[i] == "-")
        die("settable key " kname[i] " needs a default")
    if (kdef[i] != "-") {
        ok = 1
        if (t == "enum")
            ok = ("," kenum[i] ",") ~ ("," kdef[i] ",")
        else if (t == "bool")
            ok = kdef[i] == "0" || kdef[i] == "1"
        else if (t == "size")
            ok = sizekib(kdef[i]) >= 0
        else if (t == "int" || t == "percent")
            ok = kdef[i] ~ /^[0-9]+$/
        else if (t == "sizepct")
            ok = kdef[i] ~ /^[0-9]+%$/ || sizekib(kdef[i]) >= 0
        else if (t == "path")
            ok = kdef[i] ~ /^\//
        if (!ok)
            die("default '" kdef[i] "' of " kname[i] " does not fit " t)
    }
}

# ---- mode keys -------------------------------------------------------

function gen_keys(    i, r, m) {
    print "/*"
    print " * schema_keys.h - generated by tools/scripts/gen-schema.awk from"
    print " * xenstore-schema/xenshape.schema.  Do not edit.  Included by"
    print " * libxenshape/shape/schema.h, which says how to use it."
    print " */"
    print ""
    print "#ifndef XENSHAPE_GEN_SCHEMA_KEYS_H"
    print "#define XENSHAPE_GEN_SCHEMA_KEYS_H"
    print ""
    print "/* X(ID, name, path template, permissions, mirror-of ID or NONE,"
    print " *   description) */"
    print "#define XENSHAPE__SCHEMA_SCOPES(X) \\"
    for (r = 1; r <= nroots; r++) {
        m = rmirror[r] == "-" ? "NONE" : ident(rmirror[r])
        if (rmirror[r] != "-" && !(rmirror[r] in rootidx))
            die("scope " rscope[r] " mirrors unknown scope " rmirror[r])
        printf "    X(%s, %s, %s, %s, %s, \\\n        %s)%s\n", \
            ident(rscope[r]), cstr(rscope[r]), cstr(rpath[r]), \
            cstr(rperms[r]), m, cstr(rdesc[r]), r < nroots ? " \\" : ""
    }
    print ""
    print "/* X(ID, scope ID, index within the scope, name) */"
    print "#define XENSHAPE__SCHEMA_KEYS(X) \\"
    for (i = 1; i <= nkeys; i++)
        printf "    X(%s_%s, %s, %d, %s)%s\n", ident(kscope[i]), \
            ident(kname[i]), ident(kscope[i]), kindex[i], cstr(kname[i]), \
            i < nkeys ? " \\" : ""
    print ""
    print "/* Keys per scope, and in all. */"
    for (r = 1; r <= nroots; r++)
        printf "#define XENSHAPE__SCHEMA_NR_%s %d\n", ident(rscope[r]), \
            rcount[r]
    printf "#define XENSHAPE__SCHEMA_NR_KEYS %d\n", nkeys
    print ""
    print "#endif /* XENSHAPE_GEN_SCHEMA_KEYS_H */"
}

# ---- mode table ------------------------------------------------------

function gen_table(    i, n, w, j, id) {
    print "/*"
    print " * schema_table.c - generated by tools/scripts/gen-schema.awk from"
    print " * xenstore-schema/xenshape.schema.  Do not edit.  The key table"
    print " * declared in libxenshape/shape/schema.h."
    print " */"
    print ""
    print "#include \"shape/schema.h\""
    print ""
    for (i = 1; i <= nkeys; i++) {
        if (ktype[i] != "enum")
            continue
        n = split(kenum[i], w, ",")
        printf "static const char *const enum_%s_%s[] = {", \
            ident(kscope[i]), ident(kname[i])
        for (j = 1; j <= n; j++)
            printf " %s,", cstr(w[j])
        print " NULL };"
    }
    print ""
    print "const xenshape__schema_key xenshape__schema_keys[XENSHAPE__SCHEMA_NR_KEYS] = {"
    for (i = 1; i <= nkeys; i++) {
        id = ident(kscope[i]) "_" ident(kname[i])
        printf "    [XENSHAPE__KEY_%s] = {\n", id
        printf "        .id = XENSHAPE__KEY_%s,\n", id
        printf "        .scope = XENSHAPE__SCOPE_%s, .index = %d,\n", \
            ident(kscope[i]), kindex[i]
        printf "        .name = %s,\n", cstr(kname[i])
        printf "        .type = XENSHAPE__TYPE_%s,\n", ident(ktype[i])
        printf "        .min = %s, .max = %s,\n", u64(klo[i]), \
            kunb[i] ? "UINT64_MAX" : u64(khi[i])
        printf "        .pct_min = %d, .pct_max = %d,\n", kplo[i], kphi[i]
        printf "        .range = %s,\n", cstr(krange[i] == "-" ? "" : krange[i])
        if (ktype[i] == "enum")
            printf "        .enums = enum_%s,\n", id
        printf "        .def = %s,\n", kdef[i] == "-" ? "NULL" : cstr(kdef[i])
        printf "        .writer = XENSHAPE__WRITER_%s,\n", ident(kwriter[i])
        printf "        .desc = %s,\n", cstr(kdesc[i])
        print "    },"
    }
    print "};"
    print ""
    print "/*"
    print " * Local variables:"
    print " * mode: C"
    print " * c-basic-offset: 4"
    print " * indent-tabs-mode: nil"
    print " * End:"
    print " */"
}

# ---- mode cases ------------------------------------------------------

function emit(i, value, ok, expect, pct, why) {
    printf "    X(%s, %s, %s, %d, %s, %d, %s) \\\n", ident(kscope[i]), \
        cstr(kname[i]), cstr(value), ok, u64(expect), pct, cstr(why)
    ncases++
}

# Values shared by every numeric type.
function emit_numeric_junk(i) {
    emit(i, "", 0, 0, 0, "empty")
    emit(i, "abc", 0, 0, 0, "not a number")
    emit(i, "+5", 0, 0, 0, "not a number")
    emit(i, " 5", 0, 0, 0, "not a number")
    emit(i, "-1", 0, 0, 0, "must not be negative")
    emit(i, "99999999999999999999", 0, 0, 0, "too large")
    emit(i, "18446744073709551616", 0, 0, 0, "too large")
}

function gen_cases_int(i) {
    emit(i, sprintf("%.0f", klo[i]), 1, klo[i], 0, "")
    if (klo[i] > 0)
        emit(i, sprintf("%.0f", klo[i] - 1), 0, 0, 0, "out of range")
    if (!kunb[i]) {
        emit(i, sprintf("%.0f", khi[i]), 1, khi[i], 0, "")
        emit(i, sprintf("%.0f", khi[i] + 1), 0, 0, 0, "out of range")
    }
    if (kdef[i] != "-")
        emit(i, kdef[i], 1, kdef[i] + 0, 0, "")
    emit(i, "12abc", 0, 0, 0, "not a number")
    emit(i, "12 ", 0, 0, 0, "not a number")
    emit_numeric_junk(i)
}

function gen_cases_size(i,    s, p, hi) {
    p = index(krange[i], "..")
    if (ktype[i] == "sizepct")
        p = index(krange[i], ",") + index(substr(krange[i], \
            index(krange[i], ",") + 1), "..")
    emit(i, sprintf("%.0f", klo[i]), 1, klo[i], 0, "")
    if (klo[i] > 0)
        emit(i, sprintf("%.0f", klo[i] - 1), 0, 0, 0, "out of range")
    if (!kunb[i]) {
        hi = substr(krange[i], p + 2)
        emit(i, hi, 1, khi[i], 0, "")
        emit(i, tolower(hi), 1, khi[i], 0, "")
        emit(i, sprintf("%.0f", khi[i]), 1, khi[i], 0, "")
        emit(i, sprintf("%.0f", khi[i] + 1), 0, 0, 0, "out of range")
        if (khi[i] >= 1024 * 1024)
            emit(i, sprintf("%.0fM", khi[i] / 1024 + 1), 0, 0, 0, \
                "out of range")
    }
    if (kdef[i] != "-" && kdef[i] !~ /%$/)
        emit(i, kdef[i], 1, sizekib(kdef[i]), 0, "")
    emit(i, "12Q", 0, 0, 0, "suffix")
    emit(i, "1.5G", 0, 0, 0, "suffix")
    emit(i, "12GG", 0, 0, 0, "suffix")
    emit(i, "12G ", 0, 0, 0, "suffix")
    emit(i, "G", 0, 0, 0, "not a number")
    emit(i, "99999999999999999999G", 0, 0, 0, "too large")
    # 2^34 T is exactly 2^64 KiB; 2^54 T overflows far more.
    emit(i, "17179869184T", 0, 0, 0, "too large")
    emit(i, "18014398509481984T", 0, 0, 0, "too large")
    emit_numeric_junk(i)
}

function gen_cases_pct(i, lo, hi, sfx, pct) {
    emit(i, lo sfx, 1, lo, pct, "")
    emit(i, hi sfx, 1, hi, pct, "")
    if (lo > 0)
        emit(i, (lo - 1) sfx, 0, 0, 0, "out of range")
    emit(i, (hi + 1) sfx, 0, 0, 0, "out of range")
    emit(i, "50%%", 0, 0, 0, "not a number")
    emit(i, "%", 0, 0, 0, "not a number")
    emit(i, "-5%", 0, 0, 0, "must not be negative")
}

function gen_cases_one(i,    t, n, w, j, s) {
    t = ktype[i]
    if (t == "int") {
        gen_cases_int(i)
    } else if (t == "size") {
        gen_cases_size(i)
    } else if (t == "percent") {
        gen_cases_pct(i, klo[i], khi[i], "", 0)
        gen_cases_pct(i, klo[i], khi[i], "%", 0)
        emit(i, kdef[i], 1, kdef[i] + 0, 0, "")
        emit_numeric_junk(i)
    } else if (t == "sizepct") {
        gen_cases_size(i)
        gen_cases_pct(i, kplo[i], kphi[i], "%", 1)
        if (kdef[i] ~ /%$/)
            emit(i, kdef[i], 1, substr(kdef[i], 1, length(kdef[i]) - 1), \
                1, "")
    } else if (t == "bool") {
        emit(i, "0", 1, 0, 0, "")
        emit(i, "1", 1, 1, 0, "")
        emit(i, "false", 1, 0, 0, "")
        emit(i, "true", 1, 1, 0, "")
        emit(i, "no", 1, 0, 0, "")
        emit(i, "yes", 1, 1, 0, "")
        emit(i, "2", 0, 0, 0, "not a boolean")
        emit(i, "TRUE", 0, 0, 0, "not a boolean")
        emit(i, "1 ", 0, 0, 0, "not a boolean")
        emit(i, "", 0, 0, 0, "empty")
    } else if (t == "enum") {
        n = split(kenum[i], w, ",")
        for (j = 1; j <= n; j++)
            emit(i, w[j], 1, j - 1, 0, "")
        emit(i, "bogus", 0, 0, 0, "not one of")
        emit(i, toupper(w[1]), 0, 0, 0, "not one of")
        emit(i, w[1] " ", 0, 0, 0, "not one of")
        emit(i, w[1] w[1], 0, 0, 0, "not one of")
        emit(i, "", 0, 0, 0, "empty")
    } else if (t == "path" || t == "string") {
        if (kdef[i] != "-")
            emit(i, kdef[i], 1, length(kdef[i]), 0, "")
        s = t == "path" ? "/" : "x"
        while (length(s) < khi[i])
            s = s "a"
        emit(i, s, 1, length(s), 0, "")
        emit(i, s "a", 0, 0, 0, "too long")
        if (t == "path") {
            emit(i, "relative/store", 0, 0, 0, "absolute")
            emit(i, "/tab\there", 0, 0, 0, "control")
        }
        if (klo[i] > 0)
            emit(i, "", 0, 0, 0, "empty")
    }
}

function gen_cases(    i) {
    ncases = 0
    print "/*"
    print " * schema_cases.h - generated by tools/scripts/gen-schema.awk from"
    print " * xenstore-schema/xenshape.schema.  Do not edit.  For every key a"
    print " * Dom0 may write: values derived from its type, range and default."
    print " * X(scope ID, key, value, valid?, expected value (KiB for sizes,"
    print " *   index for enums, length for paths), expected percent flag,"
    print " *   words the rejection must contain)"
    print " */"
    print ""
    print "#define XENSHAPE__SCHEMA_CASES(X) \\"
    for (i = 1; i <= nkeys; i++)
        if (kwriter[i] == "dom0")
            gen_cases_one(i)
    print "    /* end */"
    print ""
    printf "#define XENSHAPE__SCHEMA_NR_CASES %d\n", ncases
}

# ---- mode doc --------------------------------------------------------

function mdcell(s) {
    gsub(/\|/, "\\|", s)
    return s
}

function range_text(i,    t, r) {
    t = ktype[i]
    r = krange[i]
    if (t == "bool")
        return "0, 1"
    if (t == "enum") {
        gsub(/,/, ", ", r)
        return r
    }
    if (t == "string" || t == "path")
        return r " bytes"
    if (t == "sizepct") {
        sub(/,/, " or ", r)
        return r
    }
    if (r ~ /\.\.$/)
        return "from " substr(r, 1, length(r) - 2)
    return r
}

function gen_doc(    i, r, m, p, inpara) {
    print "<!-- Generated by tools/scripts/gen-schema.awk from"
    print "     xenstore-schema/xenshape.schema.  Do not edit: change the"
    print "     schema, then run `make schema-docs`. -->"
    print ""
    print "# xenstore paths"
    print ""
    inpara = 0
    for (i = 1; i <= ndoc; i++) {
        if (doc[i] == "") {
            if (inpara)
                print ""
            inpara = 0
            continue
        }
        print doc[i]
        inpara = 1
    }
    if (inpara)
        print ""
    print "## Value types"
    print ""
    print "| Type | Accepts |"
    print "|---|---|"
    print "| int | a decimal number without sign |"
    print "| bool | `0`, `1`, `false`, `true`, `no`, `yes` |"
    print "| size | KiB (`524288`), or a whole number with the suffix `K`, `M`, `G` or `T`, powers of 1024 (`512M`, `2G`); case does not matter |"
    print "| percent | `0`..`100`, with or without a trailing `%` |"
    print "| sizepct | a percent with its `%` (`70%`), or a size (`2G`) |"
    print "| enum | one of the listed words, exactly |"
    print "| string | printable ASCII text |"
    print "| path | an absolute file name, printable ASCII |"
    print ""
    print "Values are at most 2048 bytes (a xenstore node).  Leading or"
    print "trailing blanks, signs, fractions and anything after a number are"
    print "rejected."
    print ""
    for (r = 1; r <= nroots; r++) {
        p = rpath[r]
        printf "## `%s/` (%s)\n\n", p, rscope[r]
        printf "%s  Permissions: `%s`.\n\n", rdesc[r], rperms[r]
        if (rmirror[r] != "-") {
            m = rootidx[rmirror[r]]
            printf "Holds a copy of every key of `%s/`:", rpath[m]
            for (i = 1; i <= nkeys; i++)
                if (kscope[i] == rmirror[r])
                    printf " `%s`", kname[i]
            printf ".  Written by xenshaped only.\n\n"
            continue
        }
        print "| Key | Type | Range | Default | Written by | Description |"
        print "|---|---|---|---|---|---|"
        for (i = 1; i <= nkeys; i++) {
            if (kscope[i] != rscope[r])
                continue
            printf "| `%s` | %s | %s | %s | %s | %s |\n", kname[i], \
                ktype[i], mdcell(range_text(i)), \
                kdef[i] == "-" ? "" : "`" kdef[i] "`", kwriter[i], \
                mdcell(kdesc[i])
        }
        print ""
    }
}

# ---- mode man ---------------------------------------------------------

# Text for roff: backslashes and hyphens escaped, markdown's backquotes
# dropped, and a leading dot or quote kept from being a request.
function roff(s) {
    gsub(/\\/, "\\e", s)
    gsub(/-/, "\\-", s)
    gsub(/`/, "", s)
    if (s ~ /^[.']/)
        s = "\\&" s
    return s
}

function gen_man(    i, r, m, inpara, line) {
    print ".\\\" Generated by tools/scripts/gen-schema.awk from"
    print ".\\\" xenstore-schema/xenshape.schema.  Do not edit: change the schema."
    print ".TH XENSHAPE\\-XENSTORE 7 \"\" \"xenshape\" \"Miscellaneous\""
    print ".SH NAME"
    print "xenshape\\-xenstore \\- the xenstore keys of xenshape: policy and status"
    print ".SH DESCRIPTION"
    inpara = 0
    for (i = 1; i <= ndoc; i++) {
        if (doc[i] == "") {
            if (inpara)
                print ".PP"
            inpara = 0
            continue
        }
        print roff(doc[i])
        inpara = 1
    }
    print ".SH VALUE TYPES"
    print ".TP\n.B int\na decimal number without sign"
    print ".TP\n.B bool\n0, 1, false, true, no, yes"
    print ".TP\n.B size\nKiB (524288), or a whole number with the suffix K, M, G or T,"
    print "powers of 1024 (512M, 2G); case does not matter"
    print ".TP\n.B percent\n0..100, with or without a trailing %"
    print ".TP\n.B sizepct\na percent with its % (70%), or a size (2G)"
    print ".TP\n.B enum\none of the listed words, exactly"
    print ".TP\n.B string\nprintable ASCII text"
    print ".TP\n.B path\nan absolute file name, printable ASCII"
    print ".PP"
    print "Values are at most 2048 bytes (a xenstore node).  Leading or"
    print "trailing blanks, signs, fractions and anything after a number are"
    print "rejected."
    for (r = 1; r <= nroots; r++) {
        printf ".SH %s/ (%s)\n", roff(rpath[r]), rscope[r]
        printf "%s\nPermissions: %s.\n", roff(rdesc[r]), rperms[r]
        if (rmirror[r] != "-") {
            m = rootidx[rmirror[r]]
            printf ".PP\nHolds a copy of every key of %s/:\n", \
                roff(rpath[m])
            line = ""
            for (i = 1; i <= nkeys; i++)
                if (kscope[i] == rmirror[r])
                    line = line (line == "" ? "" : ", ") roff(kname[i])
            print line "."
            print "Written by xenshaped only."
            continue
        }
        for (i = 1; i <= nkeys; i++) {
            if (kscope[i] != rscope[r])
                continue
            printf ".TP\n.B %s\n", roff(kname[i])
            printf "%s, %s", ktype[i], roff(range_text(i))
            if (kdef[i] != "-")
                printf ", default %s", roff(kdef[i])
            printf "; written by %s.\n", kwriter[i]
            printf "%s\n", roff(kdesc[i])
        }
    }
    print ".SH SEE ALSO"
    print ".BR xenshape (1),"
    print ".BR xenshaped (8),"
    print ".BR xenstore\\-read (1),"
    print ".BR xenstore\\-write (1)"
}

END {
    if (failed)
        exit 1
    if (nkeys == 0) {
        printf "gen-schema.awk: no keys in the schema\n" > "/dev/stderr"
        exit 1
    }
    if (mode == "keys") gen_keys()
    else if (mode == "table") gen_table()
    else if (mode == "cases") gen_cases()
    else if (mode == "man") gen_man()
    else gen_doc()
}

# Local variables:
# mode: awk
# End:
