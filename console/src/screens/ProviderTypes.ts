// The API's answers the provider and invitation screens read, as the OpenAPI document
// (/openapi.json) gives them.

export interface Provider {
  id: string;
  name: string;
  email: string;
  npi: string | null;
  phone: string | null;
  date_of_birth: string | null;
  organization_id: string;
  status: string;
  primary_facility_id: string | null;
}

export interface Facility {
  id: string;
  organization_id: string;
  name: string;
  active: boolean;
  office_manager_id: string | null;
}

export interface Assignment {
  id: string;
  user_id: string;
  organization_id: string;
  organization_name: string;
  facility_id: string;
  facility_name: string;
  is_primary: boolean;
  status: string;
  start_date: string;
  end_date: string | null;
}

export interface Credential {
  id: string;
  credential_type: string;
  number: string | null;
  state: string | null;
  issuer: string | null;
  specialty: string | null;
  expiry_date: string | null;
  status: string;
  days_left: number | null;
  verified_at: string | null;
  rejection_reason: string | null;
}

export interface ComplianceItem {
  item: string;
  weight: number;
  share: number;
  state: string;
  expiry_date: string | null;
  days_left: number | null;
  missing_states: string[];
}

export interface ProviderCompliance {
  user_id: string;
  name: string;
  score: number;
  missing: string[];
  expired: string[];
  expiring: string[];
  unverified: string[];
  excluded: boolean;
  items: ComplianceItem[];
}

export interface ChecklistItem {
  item: string;
  complete: boolean;
  detail: string | null;
}

export interface Checklist {
  user_id: string;
  percent_complete: number;
  items: ChecklistItem[];
}

export interface ProviderDocument {
  id: string;
  credential_id: string | null;
  document_type: string;
  filename: string;
  size_bytes: number;
  expiry_date: string | null;
  created_at: string;
}

export interface Screening {
  id: string;
  screened_at: string;
  reason: string;
  outcome: string;
  matches: Record<string, unknown>[];
}

export interface Invitation {
  id: string;
  organization_id: string;
  email: string;
  name: string;
  role: string;
  facility_ids: string[];
  primary_facility_id: string | null;
  status: string;
  expires_at: string;
  accepted_at: string | null;
  revoked_at: string | null;
  created_at: string;
}
