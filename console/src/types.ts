// The API's answers the console reads, as the OpenAPI document (/openapi.json) gives them.

export interface Tokens {
  access_token: string;
  expires_in: number;
  organization_id: string | null;
}

export interface MfaChallenge {
  mfa_token: string;
  expires_in: number;
  mfa_required?: boolean;
  mfa_enrollment_required?: boolean;
  mfa_requirement?: string | null;
}

export interface Membership {
  organization_id: string;
  organization_name: string;
  role: string;
}

export interface RepresentedOrganization {
  organization_id: string;
  organization_name: string;
}

export interface Me {
  id: string;
  email: string;
  name: string;
  is_msc_admin: boolean;
  organization_id: string | null;
  role: string | null;
  permissions: string[];
  memberships: Membership[];
  represented_organizations: RepresentedOrganization[];
}

export interface Overview {
  total_facilities: number;
  total_providers: number;
  active_orders: number;
  compliance_score: number | null;
  document_compliance_score: number | null;
  excluded_providers: number;
  open_exclusion_candidates: number;
}

export interface FacilityCard {
  id: string;
  name: string;
  organization_id: string;
  active: boolean;
  providers: number;
  active_orders: number;
  compliance_score: number | null;
}

export interface Activity {
  occurred_at: string;
  actor_name: string;
  summary: string;
  table_name: string;
  action: string;
  row_id: string;
}

export interface OnboardingStepState {
  step: string;
  completed: boolean;
  manual: boolean;
  completed_at: string | null;
  requirement: string | null;
}

export interface OnboardingProgress {
  organization_id: string;
  onboarding_status: string;
  percent_complete: number;
  next_step: string | null;
  steps: OnboardingStepState[];
}

export interface Dashboard {
  organization_id: string;
  overview: Overview;
  facilities: FacilityCard[];
  recent_activity: Activity[];
  onboarding_progress: OnboardingProgress;
}

// RFC 9457 problem details, as every refusal of the API comes (app/problems.py).
export interface Problem {
  title: string;
  status: number;
  detail?: string;
  request_id?: string;
  errors?: Record<string, Record<string, unknown>>;
}

export interface Organization {
  id: string;
  name: string;
  organization_type: string;
  status: string;
  onboarding_status: string;
}
