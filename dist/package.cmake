# The Debian package: `cpack -G DEB` in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr (the programs, units and strategy directory
# carry their installed paths). Shared-library dependencies (libev4,
# liblua5.4-0, libsodium23, libinih1, libsystemd0, libc6) come from
# dpkg-shlibdeps; the maintainer scripts in debian/ create the natpunch system
# user at install time and remove it on purge.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME natpunch)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "natpunch maintainers <natpunch@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "UDP tunnel between two hosts behind NATs")
set(CPACK_PACKAGE_DESCRIPTION "natpunch punches a path through both NATs with the help of a rendezvous
server (natpunch-server), authenticates the peer with Noise IK and carries IP
packets over UDP through a tun device. Traversal strategies are loadable
modules; Lua hooks run on tunnel up and down. Includes systemd units
(natpunch@.service, natpunch-server.service) and man pages.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# useradd/userdel for the system user (passwd is required in Debian, but say so).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "nftables, iproute2")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_CURRENT_SOURCE_DIR}/debian/postinst
  ${CMAKE_CURRENT_SOURCE_DIR}/debian/prerm
  ${CMAKE_CURRENT_SOURCE_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "cpack -G DEB: the prefix is ${CMAKE_INSTALL_PREFIX}; configure with -DCMAKE_INSTALL_PREFIX=/usr for a system package")
endif()
include(CPack)
