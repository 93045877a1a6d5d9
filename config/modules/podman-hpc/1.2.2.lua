-- podman-hpc: NERSC's wrapper around podman for HPC (the pip package
-- podman-hpc), installed into the project's venv (.venv of the checkout that
-- holds this module tree).  The version is this file's name; loading refuses
-- when another version is installed there.  When none is, the module still
-- loads (a site config may name it), says so, and sets HPCVAL_PODMAN_HPC=absent:
-- a job can tell that no podman-hpc ran.
local version = myModuleVersion()
local root = myFileName():match("^(.*)/config/modules/") or "."
local bin = pathJoin(root, ".venv", "bin")

help([[podman-hpc ]] .. version .. [[ (pip package podman-hpc in ]] .. root .. [[/.venv):
podman with squashed images and MPI/GPU hooks for HPC jobs; needs podman itself (Debian: podman).]])
whatis("Name: podman-hpc")
whatis("Version: " .. version)
whatis("Description: rootless podman for HPC jobs, from the project's venv")

-- the installed distribution, from its metadata folder (no Python started)
local dist = capture("ls -d " .. root .. "/.venv/lib/python3*/site-packages/podman_hpc-*.dist-info 2>/dev/null")
local installed = dist:match("podman_hpc%-([^/]-)%.dist%-info")
if mode() == "load" then
    if installed and installed ~= version then
        LmodError(myModuleFullName() .. ": the installed podman-hpc is " .. installed .. ", not " ..
                  version .. " (rename the modulefile, or pip install podman-hpc==" .. version .. ")")
    elseif not installed then
        LmodMessage(myModuleFullName() .. ": podman-hpc is not installed in " .. root ..
                    "/.venv (pip install podman-hpc==" .. version .. "); HPCVAL_PODMAN_HPC=absent")
    end
end

prepend_path("PATH", bin)
setenv("HPCVAL_PODMAN_HPC", installed and pathJoin(bin, "podman-hpc") or "absent")
setenv("HPCVAL_MODULE_PODMAN_HPC", version)
