# Read by cpack for each generator (CPACK_PROJECT_CONFIG_FILE).
# A Debian package installs into /usr: the plugin directory and the
# multiarch libdir compiled into volley are taken when the build is
# configured, so a package of a /usr/local build would be wrong, not just
# unusual.
if(CPACK_GENERATOR STREQUAL "DEB" AND NOT CPACK_PACKAGING_INSTALL_PREFIX STREQUAL "/usr")
  message(FATAL_ERROR "cpack -G DEB: configure the build with -DCMAKE_INSTALL_PREFIX=/usr "
          "(this one has ${CPACK_PACKAGING_INSTALL_PREFIX})")
endif()

# The plugins are dlopen()ed modules without a soname: CPackDeb's note that
# it leaves them out of DEBIAN/shlibs (only libvolley-testhost.so.0 belongs
# there) is expected, not a warning for us.
set(CMAKE_SUPPRESS_DEVELOPER_WARNINGS ON)
