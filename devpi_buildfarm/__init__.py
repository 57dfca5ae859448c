"""devpi_buildfarm: wheel builds queued on uploads and mirror events, published into devpi."""
