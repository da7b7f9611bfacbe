# Default GPU architectures for the CUDA kernels, chosen from the nvcc version, because each
# toolkit knows a different set: Thor is sm_101 on CUDA 12.8/12.9 and sm_110 from CUDA 13, and a
# CUDA 12.6 nvcc (JetPack 6.1/6.2) refuses both. Turing, Ampere, Orin (87), Ada, Hopper, Thor.
# CUDA 13 dropped sm_72 (Xavier), which JetPack 5 needs and edgeseg does not support.
function(edgeseg_default_cuda_archs nvcc_version out_var)
  if(nvcc_version VERSION_GREATER_EQUAL 13.0)
    set(archs 75 86 87 89 90 110)
  elseif(nvcc_version VERSION_GREATER_EQUAL 12.8)
    set(archs 75 86 87 89 90 101)
  elseif(nvcc_version VERSION_GREATER_EQUAL 11.8)
    set(archs 75 86 87 89 90)
  else()
    message(FATAL_ERROR "edgeseg: nvcc ${nvcc_version} is too old: CUDA >= 11.8 is needed (sm_87, sm_89, sm_90)")
  endif()
  set(${out_var} "${archs}" PARENT_SCOPE)
endfunction()
