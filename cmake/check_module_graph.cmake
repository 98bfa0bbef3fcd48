# Checks brix's module graph: every file under ROOT/<module>/ may include <brix/<module>/...>
# headers of its own module and of the modules below it (the transitive closure of what it
# USES), nothing else. GRAPH is a file of lines "module:used;used;..." (lib/CMakeLists.txt
# writes it). Usage:
#   cmake -DGRAPH=build/generated/brix-modules.txt -DROOT=lib/brix -P cmake/check_module_graph.cmake
# Exits with an error naming every offending include as file:line.
cmake_minimum_required(VERSION 3.25)
if(NOT DEFINED GRAPH OR NOT DEFINED ROOT)
  message(FATAL_ERROR "usage: cmake -DGRAPH=<file> -DROOT=<lib/brix> -P check_module_graph.cmake")
endif()

file(STRINGS ${GRAPH} lines)
set(modules "")
foreach(line ${lines})
  string(REGEX MATCH "^([a-z0-9_]+):(.*)$" matched "${line}")
  if(NOT matched)
    continue()
  endif()
  set(name ${CMAKE_MATCH_1})
  string(REPLACE ";" " " uses "${CMAKE_MATCH_2}")
  separate_arguments(uses)
  list(APPEND modules ${name})
  set(uses_${name} ${uses})
endforeach()

# below_<m>: every module reachable from m (modules are declared after what they use).
foreach(name ${modules})
  set(below "")
  foreach(used ${uses_${name}})
    list(APPEND below ${used} ${below_${used}})
  endforeach()
  list(REMOVE_DUPLICATES below)
  set(below_${name} ${below})
endforeach()

set(problems "")
file(GLOB folders LIST_DIRECTORIES true RELATIVE ${ROOT} ${ROOT}/*)
foreach(folder ${folders})
  if(NOT IS_DIRECTORY ${ROOT}/${folder})
    continue()
  endif()
  if(NOT folder IN_LIST modules)
    string(APPEND problems "  lib/brix/${folder}/: a folder that is no module of lib/CMakeLists.txt\n")
    continue()
  endif()
  file(GLOB_RECURSE files ${ROOT}/${folder}/*.hpp ${ROOT}/${folder}/*.cpp)
  foreach(file ${files})
    file(STRINGS ${file} includes REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]brix/")
    if(NOT includes)
      continue()
    endif()
    # Line numbers: read the whole file once and count.
    file(STRINGS ${file} all_lines)
    set(number 0)
    foreach(text IN LISTS all_lines)
      math(EXPR number "${number} + 1")
      if(NOT text MATCHES "^[ \t]*#[ \t]*include[ \t]*[<\"]brix/([a-z0-9_]+)/")
        continue()
      endif()
      set(target ${CMAKE_MATCH_1})
      if(target STREQUAL folder OR target IN_LIST below_${folder})
        continue()
      endif()
      file(RELATIVE_PATH shown ${ROOT}/.. ${file})
      string(REPLACE ";" " " allowed "${below_${folder}}")
      string(APPEND problems
        "  lib/${shown}:${number}: '${folder}' includes <brix/${target}/...>, but '${target}' is not below '${folder}' (below it: ${allowed})\n")
    endforeach()
  endforeach()
endforeach()

if(problems)
  message(FATAL_ERROR "brix module graph: a folder includes a folder that is not below it\n${problems}"
    "Move the code to the folder where it belongs, or change the module's USES in lib/CMakeLists.txt "
    "if the dependency is right and makes no cycle.")
endif()
