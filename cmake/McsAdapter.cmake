# mcs_adapter(<name> <source> <pkg-var> <pkg-spec> <description>): one
# HTTP-library adapter as its own library, so the core never links that
# HTTP library. Builds libmcsession-<name> shared and static (targets
# mcsession::<name> and mcsession::<name>_static), a mcsession-<name>.pc and
# a CMake export set the package config loads for COMPONENTS <name>.
# Skipped, with a note, where the HTTP library (pkg-config <pkg-spec>) is
# not installed. Sets MCS_ADAPTER_<NAME>_BUILT in the caller's scope.
function(mcs_adapter name source pkgvar pkgspec description)
  string(TOUPPER ${name} upper)
  set(MCS_ADAPTER_${upper}_BUILT OFF PARENT_SCOPE)
  pkg_check_modules(${pkgvar} IMPORTED_TARGET ${pkgspec})
  if(NOT ${pkgvar}_FOUND)
    message(STATUS "mcsession: ${pkgspec} not found; the ${name} adapter and its example are not built")
    return()
  endif()
  set(shared mcsession_${name})
  set(static mcsession_${name}_static)
  add_library(${shared} SHARED ${source})
  add_library(${static} STATIC ${source})
  # The public API is the only door: an adapter sees include/ alone
  # (mcsession's usage requirements). The shared adapter links the shared
  # core, which exports only MCS_EXPORT functions, and --no-undefined makes
  # a call to any other name fail its link instead of its first load.
  # (The sanitizers' runtimes are not linked into shared libraries, so
  # their builds leave that flag out.) The static adapter is the same
  # source for fully static programs: it links the static core, since a
  # static adapter over the shared core would force the .so on them, and
  # two copies of the core in one program would each keep their own
  # state. Whatever the shared build refuses, this one never sees.
  target_link_libraries(${shared} PUBLIC mcsession PkgConfig::${pkgvar})
  if(NOT MCS_SANITIZE AND NOT MCS_TSAN)
    target_link_options(${shared} PRIVATE LINKER:--no-undefined)
  endif()
  target_link_libraries(${static} PUBLIC mcsession_static PkgConfig::${pkgvar})
  # INSTALL_RPATH $ORIGIN: installed anywhere, the adapter finds the core
  # library installed beside it.
  set_target_properties(${shared} PROPERTIES OUTPUT_NAME mcsession-${name}
    EXPORT_NAME ${name} VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
    INSTALL_RPATH "\$ORIGIN")
  set_target_properties(${static} PROPERTIES OUTPUT_NAME mcsession-${name}
    EXPORT_NAME ${name}_static)
  add_library(mcsession::${name} ALIAS ${shared})
  add_library(mcsession::${name}_static ALIAS ${static})

  # Like mcsession.pc: the prefix is relative to the .pc file, so the
  # installed tree can be moved.
  file(RELATIVE_PATH MCS_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  set(MCS_ADAPTER_NAME ${name})
  set(MCS_ADAPTER_DESCRIPTION "${description}")
  # pkg-config wants spaces around the version operator in Requires.
  string(REPLACE ">=" " >= " MCS_ADAPTER_REQUIRES "${pkgspec}")
  configure_file(${PROJECT_SOURCE_DIR}/cmake/mcsession-adapter.pc.in
                 ${PROJECT_BINARY_DIR}/mcsession-${name}.pc @ONLY)

  install(TARGETS ${shared} ${static} EXPORT mcsession_${name}Targets
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT mcsession_${name}Targets NAMESPACE mcsession::
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mcsession)
  install(FILES ${PROJECT_SOURCE_DIR}/include/mcsession/${name}.h
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/mcsession)
  install(FILES ${PROJECT_BINARY_DIR}/mcsession-${name}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  set(MCS_ADAPTER_${upper}_BUILT ON PARENT_SCOPE)
endfunction()
