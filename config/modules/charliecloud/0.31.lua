-- Charliecloud: Debian's charliecloud-runtime (ch-run) and charliecloud-builders
-- (ch-image, ch-convert), installed in /usr.  The version is this file's name;
-- loading refuses when the installed ch-run's package is another (dpkg-query).
local version = myModuleVersion()
local package = "charliecloud-runtime"

help([[Charliecloud ]] .. version .. [[ (Debian packages charliecloud-runtime and -builders, in /usr):
ch-run, ch-image, ch-convert; unprivileged containers from directory or SquashFS images.]])
whatis("Name: Charliecloud")
whatis("Version: " .. version)
whatis("Description: the container runtime of the vcluster's Charliecloud platform")

if mode() == "load" then
    local installed = capture("dpkg-query -W -f='${Version}' " .. package .. " 2>/dev/null")
    local upstream = installed:gsub("^%d+:", ""):gsub("-[^-]*$", "")
    if upstream ~= version then
        LmodError(myModuleFullName() .. ": the installed " .. package .. " is '" .. installed ..
                  "', not " .. version .. " (rename the modulefile, or install the package)")
    end
end

setenv("HPCVAL_MODULE_CHARLIECLOUD", version)
