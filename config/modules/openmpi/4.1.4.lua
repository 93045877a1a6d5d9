-- The host's Open MPI: Debian's openmpi-bin, installed in /usr.
-- The version is this file's name; loading refuses when the installed
-- package is another (dpkg-query), so the name cannot lie.
local version = myModuleVersion()
local package = "openmpi-bin"

help([[The host's Open MPI ]] .. version .. [[ (Debian package ]] .. package .. [[, in /usr):
mpicc, mpirun and libmpi.so.40 of the system, as the vcluster's jobs use them.]])
whatis("Name: Open MPI")
whatis("Version: " .. version)
whatis("Description: the host MPI (" .. package .. "), the one config/vcluster.py's host-openmpi loads")
family("mpi")

if mode() == "load" then
    local installed = capture("dpkg-query -W -f='${Version}' " .. package .. " 2>/dev/null")
    -- Debian's version: [epoch:]upstream[-revision]
    local upstream = installed:gsub("^%d+:", ""):gsub("-[^-]*$", "")
    if upstream ~= version then
        LmodError(myModuleFullName() .. ": the installed " .. package .. " is '" .. installed ..
                  "', not " .. version .. " (rename the modulefile, or install the package)")
    end
end

setenv("MPI_HOME", "/usr")
-- what a job prints to prove that this module, not the bare system, set it up
setenv("HPCVAL_MODULE_OPENMPI", version)
